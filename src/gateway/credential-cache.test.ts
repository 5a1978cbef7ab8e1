import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.js";
import { type MasterKeys, rewrap, seal } from "../core/crypto.js";
import type { ServiceAuth, ServiceRecord } from "../core/types.js";
import { type TestContext, testContext } from "../test/context.js";
import { GatewayCaches } from "./caches.js";
import { CredentialCache } from "./credential-cache.js";
import type { Injection } from "./inject.js";

const fakeSecret = () => `sk_test_FAKE_${randomBytes(8).toString("hex")}`;
const keysV1: MasterKeys = { current: 1, keys: new Map([[1, randomBytes(32)]]) };

function record(name: string, keys: MasterKeys, secret: string, auth: ServiceAuth = { type: "bearer" }): ServiceRecord {
  return {
    name,
    template: null,
    upstream: "http://127.0.0.1:1",
    auth,
    scopes: {},
    insecureUpstream: true,
    credential: seal(keys, name, Buffer.from(secret)),
    credentialFingerprint: null,
    credentialUpdatedAt: null,
    createdAt: 0,
    updatedAt: 0,
  };
}

/** The entry's own Buffers (white box: zeroing is not observable through the cache's interface). */
function heldBuffers(cache: CredentialCache, service: string): Buffer[] {
  const e = (cache as unknown as { entries: Map<string, { injection: Injection }> }).entries.get(service);
  if (!e) throw new Error(`no entry for ${service}`);
  return [e.injection.value, ...e.injection.needles];
}

const allZero = (bufs: Buffer[]) => bufs.every((b) => b.every((x) => x === 0));

function authOf(cache: CredentialCache, keys: MasterKeys, svc: ServiceRecord): string | undefined {
  const headers: Record<string, string> = {};
  cache.inject(keys, svc, headers, "");
  return headers.authorization;
}

const caches: CredentialCache[] = [];
function newCache(clock = new ManualClock(), ttlMs = 10_000, max = 256) {
  const c = new CredentialCache(clock, { ttlMs, max, sweepEveryMs: 0 });
  caches.push(c);
  return c;
}
afterEach(() => {
  for (const c of caches.splice(0)) c.dispose();
});

describe("CredentialCache", () => {
  it("injects like open + injectCredential, and hands each request its own needles", () => {
    const cache = newCache();
    const s = fakeSecret();
    const svc = record("svc", keysV1, s);
    const first = cache.inject(keysV1, svc, {}, "");
    for (const n of first.needles) n.fill(0); // what the gateway does after the response
    const headers: Record<string, string> = { accept: "*/*" };
    const second = cache.inject(keysV1, svc, headers, "a=1");
    expect(headers).toEqual({ accept: "*/*", authorization: `Bearer ${s}` });
    expect(second.query).toBe("a=1");
    expect(second.needles.some((n) => n.toString() === s)).toBe(true);
    expect(cache.size).toBe(1);
  });

  it("uses a new credential on the very next request, with no change notification (another replica set it)", () => {
    const cache = newCache();
    const svc = record("svc", keysV1, fakeSecret());
    authOf(cache, keysV1, svc);
    const next = fakeSecret();
    const rotated = record("svc", keysV1, next);
    expect(authOf(cache, keysV1, rotated)).toBe(`Bearer ${next}`);
    const r = cache.inject(keysV1, rotated, {}, "");
    expect(r.needles.some((n) => n.toString() === next)).toBe(true);
  });

  it("zeroes the replaced entry when the credential changes", () => {
    const cache = newCache();
    authOf(cache, keysV1, record("svc", keysV1, fakeSecret()));
    const old = heldBuffers(cache, "svc");
    authOf(cache, keysV1, record("svc", keysV1, fakeSecret()));
    expect(allZero(old)).toBe(true);
  });

  it("opens afresh after a master-key rotation and never serves a blob the given keys cannot open", () => {
    const cache = newCache();
    const s = fakeSecret();
    const svc = record("svc", keysV1, s);
    authOf(cache, keysV1, svc);
    const keysV2: MasterKeys = { current: 2, keys: new Map([...keysV1.keys, [2, randomBytes(32)]]) };
    const rewrapped = { ...svc, credential: rewrap(keysV2, "svc", svc.credential as Buffer) };
    expect(authOf(cache, keysV2, rewrapped)).toBe(`Bearer ${s}`);
    expect(authOf(cache, keysV2, svc)).toBe(`Bearer ${s}`);
    // Keys that no longer hold version 1: the cached plaintext of the version-1 blob must not be used.
    const onlyV2: MasterKeys = { current: 2, keys: new Map([[2, keysV2.keys.get(2) as Buffer]]) };
    expect(() => authOf(cache, onlyV2, svc)).toThrow(/master key version 1 is not loaded/);
  });

  it("follows an auth change with the same sealed credential", () => {
    const cache = newCache();
    const s = fakeSecret();
    const svc = record("svc", keysV1, s, { type: "header", name: "X-Api-Key", prefix: "Key " });
    const sent = (auth: ServiceAuth) => {
      const headers: Record<string, string> = {};
      cache.inject(keysV1, { ...svc, auth }, headers, "");
      return headers;
    };
    expect(sent(svc.auth)).toEqual({ "x-api-key": `Key ${s}` });
    expect(sent({ type: "header", name: "X-Api-Key", prefix: "Token " })).toEqual({ "x-api-key": `Token ${s}` });
    expect(sent({ type: "header", name: "X-Other", prefix: "Token " })).toEqual({ "x-other": `Token ${s}` });
    expect(sent({ type: "bearer" })).toEqual({ authorization: `Bearer ${s}` });
  });

  it("drops and zeroes an entry past its lifetime, whether swept or looked up", () => {
    const clock = new ManualClock();
    const cache = newCache(clock, 1_000);
    const svc = record("svc", keysV1, fakeSecret());
    authOf(cache, keysV1, svc);
    const held = heldBuffers(cache, "svc");
    clock.advance(999);
    cache.sweep();
    expect(cache.size).toBe(1);
    clock.advance(1);
    cache.sweep();
    expect(cache.size).toBe(0);
    expect(allZero(held)).toBe(true);

    authOf(cache, keysV1, svc);
    const again = heldBuffers(cache, "svc");
    clock.advance(1_000);
    authOf(cache, keysV1, svc);
    expect(allZero(again)).toBe(true);
  });

  it("keeps at most `max` services, zeroing the least recently used", () => {
    const cache = newCache(new ManualClock(), 10_000, 2);
    const a = record("a", keysV1, fakeSecret());
    authOf(cache, keysV1, a);
    const heldA = heldBuffers(cache, "a");
    authOf(cache, keysV1, record("b", keysV1, fakeSecret()));
    authOf(cache, keysV1, record("c", keysV1, fakeSecret()));
    expect(cache.size).toBe(2);
    expect(allZero(heldA)).toBe(true);
  });

  it("caches nothing for a credential it cannot use", () => {
    const cache = newCache();
    const svc = record("svc", keysV1, "a\r\nX-Evil: 1");
    expect(() => authOf(cache, keysV1, svc)).toThrow(/not a valid header value/);
    expect(cache.size).toBe(0);
  });
});

describe("GatewayCaches drops opened credentials with their service", () => {
  let ctx: TestContext | undefined;
  afterEach(async () => {
    await ctx?.close();
    ctx = undefined;
  });

  it("zeroes a changed or deleted service's plaintext at once, and every entry on resync", async () => {
    ctx = await testContext();
    const gc = new GatewayCaches(ctx);
    try {
      const a = record("a", ctx.masterKeys, fakeSecret());
      const b = record("b", ctx.masterKeys, fakeSecret());
      gc.credentials.inject(ctx.masterKeys, a, {}, "");
      gc.credentials.inject(ctx.masterKeys, b, {}, "");
      const heldA = heldBuffers(gc.credentials, "a");
      const heldB = heldBuffers(gc.credentials, "b");
      ctx.events.emit("service.changed", "a");
      expect(allZero(heldA)).toBe(true);
      expect(allZero(heldB)).toBe(false);
      expect(gc.credentials.size).toBe(1);
      ctx.events.emit("replica.resync");
      expect(allZero(heldB)).toBe(true);
      expect(gc.credentials.size).toBe(0);
    } finally {
      gc.dispose();
    }
  });
});
