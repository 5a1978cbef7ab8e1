import { randomBytes } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GENESIS_HASH, verifyChain } from "../core/audit-chain.js";
import { ManualClock } from "../core/clock.js";
import { kekVersionOf, type MasterKeys, open, rewrap, seal } from "../core/crypto.js";
import { AppError } from "../core/errors.js";
import { newId } from "../core/ids.js";
import { generateToken, hashToken, isWellFormed, tokenKey } from "../core/tokens.js";
import type { ApiKeyRecord, ApprovalRecord, AuditDraft, NonceRecord, ServiceRecord } from "../core/types.js";
import { auditDraftRecord } from "../test/records.js";
import { dialects } from "../test/stores.js";
import { retimedToken } from "../test/tokens.js";
import type { ConsumeRefusal, Store } from "./store.js";

const T0 = Date.UTC(2026, 0, 1);
const MIN = 60_000;

const draft = (type: AuditDraft["type"], over: Partial<AuditDraft> = {}): AuditDraft =>
  auditDraftRecord(type, { actor: { type: "api_key", id: "key_admin", name: "admin" }, ...over }, T0);

function nonce(over: Partial<NonceRecord> = {}, now = T0): NonceRecord & { token: string } {
  const token = generateToken("an", T0);
  return {
    token,
    id: newId("nce", now),
    tokenKey: tokenKey(token),
    service: "stripe",
    scopes: ["read:customers"],
    routes: ["GET /v1/customers", "GET /v1/customers/{id}"],
    agent: "billing-bot",
    task: "task-1",
    maxUses: null,
    uses: 0,
    constraints: { query: { limit: { max: 10 } } },
    metadata: { run: 7 },
    rate: null,
    issuedBy: "key_issuer",
    createdAt: now,
    expiresAt: now + 5 * MIN,
    revokedAt: null,
    ...over,
  };
}

function service(name: string, over: Partial<ServiceRecord> = {}) {
  return {
    name,
    template: "stripe",
    upstream: "https://api.stripe.com",
    auth: { type: "bearer" as const },
    scopes: { "read:customers": ["GET /v1/customers"] },
    insecureUpstream: false,
    createdAt: T0,
    updatedAt: T0,
    ...over,
  };
}

function apiKey(over: Partial<ApiKeyRecord> = {}): ApiKeyRecord & { token: string } {
  const token = generateToken("ank");
  return {
    token,
    id: newId("key", T0),
    name: "ci issuer",
    role: "issuer",
    policy: { allow: [{ service: "stripe", scopes: ["read:customers"], max_ttl: "10m" }], agents: ["billing-*"] },
    keyHash: hashToken(token),
    createdBy: "key_admin",
    createdAt: T0,
    revokedAt: null,
    ...over,
  };
}

/** Strips the test-only token so records compare with what the store returns. */
function rec<T extends { token: string }>(x: T): Omit<T, "token"> {
  const { token: _t, ...r } = x;
  return r;
}

async function put(store: Store, n: NonceRecord) {
  await store.insertNonce(n, draft("nonce.issued", { nonceId: n.id, agent: n.agent, task: n.task }));
}

async function allEvents(store: Store) {
  return store.scanAudit(0, 10_000);
}

const used = (n: NonceRecord) => draft("nonce.used", { nonceId: n.id, agent: n.agent, task: n.task });
const rejected = (r: ConsumeRefusal, n: NonceRecord | null) =>
  draft("nonce.rejected", { nonceId: n?.id ?? null, reason: r });

describe.each(dialects)("store conformance ($name)", (d) => {
  describe.skipIf(d.skip)(d.name, () => {
    let store: Store;
    beforeEach(async () => {
      store = await d.create({ poolSize: 12 });
    });
    afterEach(async () => {
      await store?.close();
    });

    it("migrates idempotently and starts at the genesis head", async () => {
      await store.migrate();
      await store.migrate();
      await store.ping();
      expect(store.dialect).toBe(d.name);
      expect(await store.auditHead()).toEqual({ seq: 0, hash: GENESIS_HASH });
    });

    it("services: put creates then updates (keeping the credential), list, get, credential, delete", async () => {
      expect(await store.putService(service("stripe"), draft("service.updated"))).toBe(true);
      expect(
        await store.setCredential("stripe", Buffer.from("sealed-1"), "sha256:aa", T0 + 1, draft("credential.set")),
      ).toBe(true);
      expect(await store.setCredential("nope", Buffer.from("x"), "sha256:bb", T0, draft("credential.set"))).toBe(false);
      const changed = service("stripe", { upstream: "https://example.com", insecureUpstream: true, updatedAt: T0 + 2 });
      expect(await store.putService(changed, draft("service.created"))).toBe(false);
      await store.putService(
        service("github", { template: null, auth: { type: "header", name: "Authorization", prefix: "token " } }),
        draft("service.created"),
      );

      expect(await store.getService("stripe")).toEqual({
        ...changed,
        credential: Buffer.from("sealed-1"),
        credentialFingerprint: "sha256:aa",
        credentialUpdatedAt: T0 + 1,
      });
      expect((await store.listServices()).map((s) => s.name)).toEqual(["github", "stripe"]);
      expect((await store.getService("github"))?.auth).toEqual({
        type: "header",
        name: "Authorization",
        prefix: "token ",
      });
      expect(await store.getService("missing")).toBeUndefined();
      // The store records what actually happened, whatever type the caller guessed.
      expect((await allEvents(store)).map((e) => e.type)).toEqual([
        "service.created",
        "credential.set",
        "service.updated",
        "service.created",
      ]);
    });

    it("deleteService revokes that service's active nonces only, in the same transaction", async () => {
      await store.putService(service("stripe"), draft("service.created"));
      const active = nonce();
      const expired = nonce({ expiresAt: T0 + 1000 });
      const other = nonce({ service: "github" });
      for (const n of [active, expired, other]) await put(store, n);
      const now = T0 + 2000;
      expect(await store.deleteService("stripe", now, draft("service.deleted"))).toBe(true);
      expect(await store.deleteService("stripe", now, draft("service.deleted"))).toBe(false);
      expect(await store.getService("stripe")).toBeUndefined();
      expect((await store.getNonce(active.id))?.revokedAt).toBe(now);
      expect((await store.getNonce(expired.id))?.revokedAt).toBeNull();
      expect((await store.getNonce(other.id))?.revokedAt).toBeNull();
      expect((await allEvents(store)).filter((e) => e.type === "service.deleted")).toHaveLength(1);
    });

    it("rewrapCredentials re-wraps every credential to the current master key version", async () => {
      const v1: MasterKeys = { current: 1, keys: new Map([[1, randomBytes(32)]]) };
      const v2: MasterKeys = { current: 2, keys: new Map([...v1.keys, [2, randomBytes(32)]]) };
      const secrets = new Map<string, Buffer>();
      for (const name of ["github", "stripe"]) {
        const secret = Buffer.from(`sk_test_FAKE_${randomBytes(8).toString("hex")}`);
        secrets.set(name, secret);
        await store.putService(service(name), draft("service.created"));
        await store.setCredential(name, seal(v1, name, secret), "sha256:x", T0, draft("credential.set"));
      }
      await store.putService(service("nocred"), draft("service.created"));
      expect(await store.rewrapCredentials((name, blob) => rewrap(v2, name, blob))).toBe(2);
      for (const [name, secret] of secrets) {
        const blob = (await store.getService(name))?.credential as Buffer;
        expect(kekVersionOf(blob)).toBe(2);
        expect(open({ current: 2, keys: new Map([[2, v2.keys.get(2) as Buffer]]) }, name, blob)).toEqual(secret);
      }
      expect(await store.rewrapCredentials((name, blob) => rewrap(v2, name, blob))).toBe(0);
      // A failing rewrap leaves every row as it was.
      await expect(
        store.rewrapCredentials(() => {
          throw new Error("kms down");
        }),
      ).rejects.toThrow("kms down");
    });

    it("API keys: lookup by hash, list, count, revoke (revoked keys still returned with revokedAt)", async () => {
      const admin = apiKey({ role: "admin", policy: null, createdBy: null, name: "bootstrap" });
      const issuer = apiKey();
      await store.insertApiKey(admin, null);
      await store.insertApiKey(issuer, draft("key.created"));
      expect(await store.countApiKeys()).toBe(2);
      expect(await store.getApiKeyByHash(hashToken(issuer.token))).toEqual(rec(issuer));
      expect(await store.getApiKeyByHash(hashToken(generateToken("ank")))).toBeUndefined();
      expect(await store.getApiKey(admin.id)).toEqual(rec(admin));
      expect((await store.listApiKeys()).map((k) => k.id).sort()).toEqual([admin.id, issuer.id].sort());
      expect(await store.revokeApiKey(issuer.id, T0 + 5, draft("key.revoked"))).toBe(true);
      expect(await store.revokeApiKey(issuer.id, T0 + 6, draft("key.revoked"))).toBe(false);
      expect(await store.revokeApiKey("key_missing", T0, draft("key.revoked"))).toBe(false);
      expect((await store.getApiKeyByHash(hashToken(issuer.token)))?.revokedAt).toBe(T0 + 5);
      expect((await allEvents(store)).map((e) => e.type)).toEqual(["key.created", "key.revoked"]);
      // A constraint error never carries row contents (PostgreSQL puts the key in `detail`).
      const dupErr = await store.insertApiKey({ ...apiKey(), keyHash: issuer.keyHash }, draft("key.created")).then(
        () => null,
        (e: unknown) => e,
      );
      expect(dupErr).toBeInstanceOf(Error);
      const hex = issuer.keyHash.toString("hex");
      expect(JSON.stringify(dupErr) + String((dupErr as Error).message)).not.toContain(hex);
      expect(await store.countApiKeys()).toBe(2);
      expect(await allEvents(store)).toHaveLength(2);
    });

    it("nonces: insert with its audit row, get by id and by hash; a failed insert writes no event", async () => {
      const n = nonce({ maxUses: 3, task: null, constraints: null });
      await put(store, n);
      expect(await store.getNonce(n.id)).toEqual(rec(n));
      expect(await store.getNonceByKey(tokenKey(n.token))).toEqual(rec(n));
      expect(await store.getNonce("nce_missing")).toBeUndefined();
      await expect(put(store, { ...nonce(), tokenKey: n.tokenKey })).rejects.toThrow();
      const events = await allEvents(store);
      expect(events.map((e) => [e.type, e.nonceId])).toEqual([["nonce.issued", n.id]]);
    });

    it("nonces: a token with altered time chars (checksum recomputed) finds nothing; keys are 38 bytes", async () => {
      const n = nonce();
      await put(store, n);
      for (const ms of [T0 + 1, T0 - 1, 0]) {
        const forged = retimedToken(n.token, ms);
        expect(isWellFormed(forged, "an")).toBe(true);
        expect(await store.getNonceByKey(tokenKey(forged))).toBeUndefined();
        const r = await store.consumeNonce(tokenKey(forged), T0 + 1, used, rejected);
        expect(r).toMatchObject({ ok: false, reason: "nonce_invalid", nonce: null });
      }
      // The same time bytes with the SHA-256 of another token, and the bare SHA-256 (the old key), find nothing.
      const other = Buffer.concat([n.tokenKey.subarray(0, 6), hashToken(generateToken("an", T0))]);
      expect(await store.getNonceByKey(other)).toBeUndefined();
      expect(await store.getNonceByKey(hashToken(n.token))).toBeUndefined();
      expect((await store.getNonce(n.id))?.uses).toBe(0);
      await expect(put(store, { ...nonce(), tokenKey: hashToken(generateToken("an", T0)) })).rejects.toThrow();
    });

    it("nonces: the rate round-trips, and a record written without one reads back as null", async () => {
      const limited = nonce({ rate: "60/m" });
      const { rate: _r, ...plain } = nonce();
      await put(store, limited);
      await put(store, plain);
      expect(await store.getNonce(limited.id)).toEqual(rec(limited));
      expect((await store.getNonceByKey(tokenKey(limited.token)))?.rate).toBe("60/m");
      expect((await store.getNonce(plain.id))?.rate).toBeNull();
      const page = await store.listNonces({}, { limit: 10 }, T0);
      expect(page.items.map((n) => n.rate).sort()).toEqual(["60/m", null]);
      const consumed = await store.consumeNonce(tokenKey(limited.token), T0, used, rejected);
      expect(consumed.ok && consumed.nonce.rate).toBe("60/m");
    });

    it("listNonces filters by agent, task, service, issuedBy and status", async () => {
      const clock = new ManualClock(T0);
      const a = nonce({ agent: "a", task: "t1" });
      const b = nonce({ agent: "b", task: "t1", service: "github", issuedBy: "key_other" });
      const exhausted = nonce({ agent: "a", task: "t2", maxUses: 1, uses: 1 });
      const expired = nonce({ agent: "a", task: "t2", expiresAt: T0 + 10 });
      const revoked = nonce({ agent: "b", task: "t3", revokedAt: T0 + 1 });
      for (const n of [a, b, exhausted, expired, revoked]) await put(store, n);
      clock.advance(1000);
      const ids = async (f: Parameters<Store["listNonces"]>[0]) =>
        (await store.listNonces(f, { limit: 100 }, clock.now())).items.map((n) => n.id).sort();
      const sorted = (...ns: NonceRecord[]) => ns.map((n) => n.id).sort();
      expect(await ids({})).toEqual(sorted(a, b, exhausted, expired, revoked));
      expect(await ids({ agent: "a" })).toEqual(sorted(a, exhausted, expired));
      expect(await ids({ task: "t1" })).toEqual(sorted(a, b));
      expect(await ids({ service: "github" })).toEqual(sorted(b));
      expect(await ids({ issuedBy: "key_other" })).toEqual(sorted(b));
      expect(await ids({ status: "active" })).toEqual(sorted(a, b));
      expect(await ids({ status: "exhausted" })).toEqual(sorted(exhausted));
      expect(await ids({ status: "expired" })).toEqual(sorted(expired));
      expect(await ids({ status: "revoked" })).toEqual(sorted(revoked));
      expect(await ids({ agent: "a", status: "active" })).toEqual(sorted(a));
    });

    it("listNonces pages newest first with a stable cursor: no duplicates, no gaps, new inserts never shift pages", async () => {
      const made: string[] = [];
      for (let i = 0; i < 25; i++) {
        const n = nonce({}, T0 + i);
        made.push(n.id);
        await put(store, n);
      }
      const seen: string[] = [];
      let cursor: string | undefined;
      const sizes: number[] = [];
      do {
        const page = await store.listNonces({}, { limit: 10, cursor }, T0);
        sizes.push(page.items.length);
        seen.push(...page.items.map((n) => n.id));
        cursor = page.nextCursor ?? undefined;
        // Concurrent issuance while paging: newer ids sort before the cursor and must not appear in later pages.
        await Promise.all([
          put(store, nonce({}, T0 + 1000 + seen.length)),
          put(store, nonce({}, T0 + 2000 + seen.length)),
        ]);
      } while (cursor !== undefined);
      expect(sizes).toEqual([10, 10, 5]);
      expect(seen).toEqual([...made].reverse());
      await expect(store.listNonces({}, { limit: 10, cursor: "garbage!" }, T0)).rejects.toMatchObject({
        code: "invalid_request",
        message: "invalid cursor",
      });
      await expect(
        store.listNonces({}, { limit: 10, cursor: Buffer.from("nce_x").toString("base64url") }, T0),
      ).rejects.toBeInstanceOf(AppError);
    });

    it("consumeNonce counts uses and rejects with the right reason", async () => {
      const clock = new ManualClock(T0);
      const n = nonce({ maxUses: 2 });
      const revoked = nonce();
      await put(store, n);
      await put(store, revoked);
      await store.revokeNonce(revoked.id, T0, (r) => draft("nonce.revoked", { nonceId: r.id }));
      const consume = (token: string) => store.consumeNonce(tokenKey(token), clock.now(), used, rejected);

      const first = await consume(n.token);
      expect(first).toMatchObject({ ok: true, nonce: { id: n.id, uses: 1 } });
      expect(await consume(n.token)).toMatchObject({ ok: true, nonce: { uses: 2 } });
      expect(await consume(n.token)).toMatchObject({
        ok: false,
        reason: "nonce_exhausted",
        nonce: { id: n.id, uses: 2 },
      });
      expect(await consume(generateToken("an", T0))).toEqual({ ok: false, reason: "nonce_invalid", nonce: null });
      expect(await consume(revoked.token)).toMatchObject({ ok: false, reason: "nonce_revoked" });

      const timed = nonce({ expiresAt: T0 + MIN });
      await put(store, timed);
      clock.set(T0 + MIN - 1);
      expect((await consume(timed.token)).ok).toBe(true);
      clock.set(T0 + MIN); // expires_at is exclusive
      expect(await consume(timed.token)).toMatchObject({ ok: false, reason: "nonce_expired", nonce: { uses: 1 } });

      // onReject may decline to audit (e.g. sampled garbage); nothing is written then.
      const before = (await store.auditHead()).seq;
      expect((await store.consumeNonce(tokenKey(generateToken("an", T0)), clock.now(), used, () => null)).ok).toBe(
        false,
      );
      expect((await store.auditHead()).seq).toBe(before);

      const types = (await allEvents(store)).filter((e) => e.type === "nonce.used" || e.type === "nonce.rejected");
      expect(types.map((e) => [e.type, e.reason])).toEqual([
        ["nonce.used", null],
        ["nonce.used", null],
        ["nonce.rejected", "nonce_exhausted"],
        ["nonce.rejected", "nonce_invalid"],
        ["nonce.rejected", "nonce_revoked"],
        ["nonce.used", null],
        ["nonce.rejected", "nonce_expired"],
      ]);
      expect(verifyChain(await allEvents(store)).ok).toBe(true);
    });

    it("getNonceStatus reads the live status by token key, without writing anything", async () => {
      const n = nonce({ maxUses: 1, expiresAt: T0 + MIN });
      const revoked = nonce({ expiresAt: T0 + MIN });
      await put(store, n);
      await put(store, revoked);
      const head = await store.auditHead();
      expect(await store.getNonceStatus(n.tokenKey, T0)).toBe("active");
      expect(await store.getNonceStatus(n.tokenKey, T0 + MIN - 1)).toBe("active");
      expect(await store.getNonceStatus(n.tokenKey, T0 + MIN)).toBe("expired"); // expires_at is exclusive
      expect(await store.getNonceStatus(tokenKey(generateToken("an", T0)), T0)).toBeUndefined();
      expect(await store.auditHead()).toEqual(head);

      expect((await store.consumeNonce(n.tokenKey, T0, used, rejected)).ok).toBe(true);
      expect(await store.getNonceStatus(n.tokenKey, T0)).toBe("exhausted");
      await store.revokeNonce(revoked.id, T0, (r) => draft("nonce.revoked", { nonceId: r.id }));
      // Not cached anywhere: the revocation shows on the next read. Precedence as nonceStatus: revoked first.
      expect(await store.getNonceStatus(revoked.tokenKey, T0)).toBe("revoked");
      expect(await store.getNonceStatus(revoked.tokenKey, T0 + MIN)).toBe("revoked");
      expect(await store.getNonceStatus(n.tokenKey, T0 + MIN)).toBe("exhausted");
    });

    it("consumeNonce is atomic: 40 concurrent uses of a max_uses:5 nonce give exactly 5 ok and 35 exhausted", async () => {
      const n = nonce({ maxUses: 5 });
      await put(store, n);
      const results = await Promise.all(
        Array.from({ length: 40 }, () => store.consumeNonce(n.tokenKey, T0 + 1, used, rejected)),
      );
      expect(results.filter((r) => r.ok)).toHaveLength(5);
      expect(results.filter((r) => !r.ok && r.reason === "nonce_exhausted")).toHaveLength(35);
      expect(
        results
          .filter((r) => r.ok)
          .map((r) => r.nonce?.uses)
          .sort(),
      ).toEqual([1, 2, 3, 4, 5]);
      expect((await store.getNonce(n.id))?.uses).toBe(5);
      const events = await allEvents(store);
      expect(events.filter((e) => e.type === "nonce.used")).toHaveLength(5);
      expect(events.filter((e) => e.type === "nonce.rejected")).toHaveLength(35);
      expect(verifyChain(events)).toEqual({ ok: true, events: 41 });
    });

    it("consumeNonce fails closed: if the audit event cannot be written the use is rolled back and it throws", async () => {
      const n = nonce({ maxUses: 1 });
      await put(store, n);
      const head = await store.auditHead();
      const [issued] = await allEvents(store);
      // A duplicate event id violates the audit table's unique constraint after the increment ran.
      const dup = (x: NonceRecord) => ({ ...used(x), id: issued?.id as string });
      await expect(store.consumeNonce(n.tokenKey, T0 + 1, dup, rejected)).rejects.toThrow();
      await expect(
        store.consumeNonce(
          n.tokenKey,
          T0 + 1,
          () => {
            throw new Error("draft failed");
          },
          rejected,
        ),
      ).rejects.toThrow("draft failed");
      expect((await store.getNonce(n.id))?.uses).toBe(0);
      expect(await store.auditHead()).toEqual(head);
      // And the store is still usable afterwards (connection returned, no transaction left open).
      expect((await store.consumeNonce(n.tokenKey, T0 + 1, used, rejected)).ok).toBe(true);
      expect(verifyChain(await allEvents(store))).toEqual({ ok: true, events: 2 });
    });

    it("a failing write in a burst of concurrent writes rolls back only itself", async () => {
      const n = nonce({ maxUses: 10 });
      await put(store, n);
      const boom = () => {
        throw new Error("draft failed");
      };
      const results = await Promise.allSettled([
        store.consumeNonce(n.tokenKey, T0 + 1, used, rejected),
        store.consumeNonce(n.tokenKey, T0 + 1, boom, rejected),
        store.appendAudit([draft("system.started")]),
        store.consumeNonce(n.tokenKey, T0 + 1, used, rejected),
        put(store, nonce()),
      ]);
      expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled", "fulfilled", "fulfilled"]);
      expect((await store.getNonce(n.id))?.uses).toBe(2);
      const events = await allEvents(store);
      expect(events.map((e) => e.type).sort()).toEqual(
        ["nonce.issued", "nonce.issued", "nonce.used", "nonce.used", "system.started"].sort(),
      );
      expect(verifyChain(events).ok).toBe(true);
    });

    it("revokeNonce revokes once, with one event; revokeNonces by filter skips revoked and expired", async () => {
      const n = nonce();
      await put(store, n);
      const audit = (x: NonceRecord) => draft("nonce.revoked", { nonceId: x.id, agent: x.agent, task: x.task });
      expect(await store.revokeNonce(n.id, T0 + 1, audit)).toMatchObject({ id: n.id, revokedAt: T0 + 1 });
      expect(await store.revokeNonce(n.id, T0 + 2, audit)).toMatchObject({ id: n.id, revokedAt: T0 + 1 });
      expect(await store.revokeNonce("nce_missing", T0, audit)).toBeUndefined();

      const now = T0 + 10;
      const t1 = [nonce({ task: "t1" }), nonce({ task: "t1", agent: "other" })];
      const t1Expired = nonce({ task: "t1", expiresAt: now });
      const t1Revoked = nonce({ task: "t1", revokedAt: T0 });
      const byAgent = nonce({ task: "t2", agent: "solo" });
      const bySvc = nonce({ task: "t3", service: "github" });
      const byKey = [nonce({ task: "t4", issuedBy: "key_b" }), nonce({ task: "t5", issuedBy: "key_b" })];
      for (const x of [...t1, t1Expired, t1Revoked, byAgent, bySvc, ...byKey]) await put(store, x);

      expect(await store.revokeNonces({ task: "t1" }, now, audit)).toBe(2);
      expect(await store.revokeNonces({ task: "t1" }, now, audit)).toBe(0);
      expect(await store.revokeNonces({ agent: "solo", issuedBy: "key_other" }, now, audit)).toBe(0);
      expect(await store.revokeNonces({ agent: "solo" }, now, audit)).toBe(1);
      expect(await store.revokeNonces({ service: "github" }, now, audit)).toBe(1);
      expect(await store.revokeNonces({ issuedBy: "key_b" }, now, audit)).toBe(2);
      await expect(store.revokeNonces({}, now, audit)).rejects.toMatchObject({ code: "invalid_request" });

      expect((await store.getNonce(t1Expired.id))?.revokedAt).toBeNull();
      expect((await store.getNonce(t1Revoked.id))?.revokedAt).toBe(T0);
      const revokedEvents = (await allEvents(store)).filter((e) => e.type === "nonce.revoked").map((e) => e.nonceId);
      expect(revokedEvents.sort()).toEqual([n, ...t1, byAgent, bySvc, ...byKey].map((x) => x.id).sort());
    });

    it("deleteExpiredNonces deletes only nonces expired before the cutoff, up to the limit", async () => {
      const old = [nonce({ expiresAt: T0 + 1 }), nonce({ expiresAt: T0 + 2 }), nonce({ expiresAt: T0 + 3 })];
      const live = nonce({ expiresAt: T0 + MIN });
      for (const x of [...old, live]) await put(store, x);
      expect(await store.deleteExpiredNonces(T0 + 100, 2)).toBe(2);
      expect(await store.deleteExpiredNonces(T0 + 100, 10)).toBe(1);
      expect(await store.deleteExpiredNonces(T0 + 100, 10)).toBe(0);
      expect(await store.getNonce(live.id)).toBeDefined();
      // Audit outlives the nonces.
      expect(await allEvents(store)).toHaveLength(4);
    });

    it("appendAudit links a contiguous chain that verifies, even with many concurrent writers", async () => {
      const first = await store.appendAudit([draft("system.started"), draft("system.started", { data: { v: "1" } })]);
      expect(first.map((e) => e.seq)).toEqual([1, 2]);
      expect(first[0]?.prevHash).toBe(GENESIS_HASH);
      expect(first[1]?.prevHash).toBe(first[0]?.hash);
      expect(await store.appendAudit([])).toEqual([]);

      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          store.appendAudit([draft("nonce.issue_denied", { reason: `r${i}` }), draft("nonce.issue_denied")]),
        ),
      );
      const events = await allEvents(store);
      expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 42 }, (_, i) => i + 1));
      expect(verifyChain(events)).toEqual({ ok: true, events: 42 });
      const last = events[events.length - 1];
      expect(await store.auditHead()).toEqual({ seq: 42, hash: last?.hash });
      expect(await store.scanAudit(40, 10)).toEqual(events.slice(40));
      expect(verifyChain(await store.scanAudit(10, 5), { seq: 10, hash: events[9]?.hash as string }).ok).toBe(true);
    });

    it("stores events with every field and hashes what it stores (undefined members normalised)", async () => {
      const full = draft("nonce.used", {
        agent: "a",
        task: "t",
        nonceId: "nce_x",
        service: "stripe",
        scopes: ["read:customers"],
        reason: "ok",
        request: { method: "GET", path: "/v1/customers", status: 200, duration_ms: 1.5, bytes: 10 },
        sourceIp: "127.0.0.1",
        data: { nested: { list: [1, "two", null], unicode: "é\u2028" }, skip: undefined },
      });
      const sloppy = { ...draft("system.started"), agent: undefined } as unknown as AuditDraft;
      const [a, b] = await store.appendAudit([full, sloppy]);
      const stored = await allEvents(store);
      expect(stored).toEqual([a, b]);
      expect(stored[0]?.data).toEqual({ nested: { list: [1, "two", null], unicode: "é\u2028" } });
      expect(stored[1]?.agent).toBeNull();
      expect(verifyChain(stored).ok).toBe(true);
    });

    it("a consumed nonce's events, and later appends for it, are found by its issuer", async () => {
      // The SQLite store takes the issuer of a nonce it has consumed from memory rather than the nonces table.
      const n = nonce({ issuedBy: "key_c" });
      const other = nonce({ issuedBy: "key_d" });
      await put(store, n);
      await put(store, other);
      expect((await store.consumeNonce(tokenKey(n.token), T0 + 1, used, rejected)).ok).toBe(true);
      expect((await store.consumeNonce(tokenKey(other.token), T0 + 1, used, rejected)).ok).toBe(true);
      await store.appendAudit([
        draft("nonce.completed", { nonceId: n.id, time: T0 + 2 }),
        draft("nonce.completed", { nonceId: other.id, time: T0 + 2 }),
        draft("nonce.completed", { nonceId: "nce_never_issued", time: T0 + 2 }),
      ]);
      const byIssuer = async (issuedBy: string) =>
        (await store.listAudit({ issuedBy }, { limit: 100 })).items.map((e) => [e.type, e.nonceId]);
      expect(await byIssuer("key_c")).toEqual([
        ["nonce.issued", n.id],
        ["nonce.used", n.id],
        ["nonce.completed", n.id],
      ]);
      expect(await byIssuer("key_d")).toEqual([
        ["nonce.issued", other.id],
        ["nonce.used", other.id],
        ["nonce.completed", other.id],
      ]);
      expect(verifyChain(await allEvents(store)).ok).toBe(true);
    });

    it("listAudit filters and pages in seq order", async () => {
      const issuer = nonce({ issuedBy: "key_i", agent: "ag", task: "tk", service: "github" });
      await put(store, issuer);
      await store.appendAudit([
        draft("nonce.used", { nonceId: issuer.id, agent: "ag", task: "tk", service: "github", time: T0 + 10 }),
        draft("nonce.issue_denied", { actor: { type: "api_key", id: "key_i", name: "i" }, time: T0 + 20 }),
        draft("service.created", { service: "stripe", time: T0 + 30 }),
      ]);
      const seqs = async (f: Parameters<Store["listAudit"]>[0]) =>
        (await store.listAudit(f, { limit: 100 })).items.map((e) => e.seq);
      expect(await seqs({})).toEqual([1, 2, 3, 4]);
      expect(await seqs({ agent: "ag" })).toEqual([1, 2]);
      expect(await seqs({ task: "tk" })).toEqual([1, 2]);
      expect(await seqs({ nonceId: issuer.id })).toEqual([1, 2]);
      expect(await seqs({ service: "github" })).toEqual([2]);
      expect(await seqs({ type: "service.created" })).toEqual([4]);
      expect(await seqs({ since: T0 + 10, until: T0 + 30 })).toEqual([2, 3]);
      // An issuer sees events of the nonces it issued and events it performed itself.
      expect(await seqs({ issuedBy: "key_i" })).toEqual([1, 2, 3]);
      expect(await seqs({ issuedBy: "key_nobody" })).toEqual([]);

      const pages: number[][] = [];
      let cursor: string | undefined;
      do {
        const p = await store.listAudit({}, { limit: 3, cursor });
        pages.push(p.items.map((e) => e.seq));
        cursor = p.nextCursor ?? undefined;
      } while (cursor !== undefined);
      expect(pages).toEqual([[1, 2, 3], [4]]);
      await expect(store.listAudit({}, { limit: 3, cursor: "%%%" })).rejects.toMatchObject({ code: "invalid_request" });
    });
  });
});

function approval(over: Partial<ApprovalRecord> = {}): ApprovalRecord {
  return {
    id: newId("apr", T0),
    status: "pending",
    requestedBy: "key_issuer",
    service: "stripe",
    agent: "billing-bot",
    task: "task-1",
    scopes: ["read:customers"],
    request: { ttlMs: 5 * MIN, service: "stripe" },
    createdAt: T0,
    expiresAt: T0 + 15 * MIN,
    decidedAt: null,
    decidedBy: null,
    comment: null,
    nonceId: null,
    deliveredAt: null,
    ...over,
  };
}

describe.each(dialects)("store conformance: approvals ($name)", (d) => {
  describe.skipIf(d.skip)(d.name, () => {
    let store: Store;
    beforeEach(async () => {
      store = await d.create({ poolSize: 12 });
    });
    afterEach(async () => {
      await store?.close();
    });
    const decided = (type: AuditDraft["type"]) => (a: ApprovalRecord) => draft(type, { data: { approval_id: a.id } });

    it("stores, reads and lists approvals newest first, by status and requester, in pages", async () => {
      const a = approval();
      await store.insertApproval(a, draft("approval.requested"));
      expect(await store.getApproval(a.id)).toEqual(a);
      expect(await store.getApproval("apr_01JH0000000000000000000000")).toBeUndefined();
      const b = approval({ id: newId("apr", T0 + 1), requestedBy: "key_other", createdAt: T0 + 1 });
      await store.insertApproval(b, draft("approval.requested"));
      expect((await store.listApprovals({}, { limit: 10 })).items.map((x) => x.id)).toEqual([b.id, a.id]);
      expect((await store.listApprovals({ requestedBy: "key_issuer" }, { limit: 10 })).items).toEqual([a]);
      expect((await store.listApprovals({ status: "approved" }, { limit: 10 })).items).toEqual([]);
      const p1 = await store.listApprovals({}, { limit: 1 });
      expect(p1.items.map((x) => x.id)).toEqual([b.id]);
      const p2 = await store.listApprovals({}, { limit: 1, cursor: p1.nextCursor ?? undefined });
      expect(p2).toEqual({ items: [a], nextCursor: null });
      expect((await store.listApprovals({ pendingDueBy: T0 + 15 * MIN }, { limit: 10 })).items).toHaveLength(2);
      expect((await store.listApprovals({ pendingDueBy: T0 + 15 * MIN - 1 }, { limit: 10 })).items).toHaveLength(0);
      await expect(store.listApprovals({}, { limit: 1, cursor: "%%%" })).rejects.toMatchObject({
        code: "invalid_request",
      });
      expect((await allEvents(store)).map((e) => e.type)).toEqual(["approval.requested", "approval.requested"]);
    });

    it("first decision wins, atomically, with its event; deadlines bind approve/deny and expire", async () => {
      const a = approval();
      await store.insertApproval(a, draft("approval.requested"));
      const now = T0 + MIN;
      const tries = await Promise.all(
        (["approved", "denied", "approved", "denied"] as const).map((status) =>
          store.decideApproval(
            a.id,
            { status, by: "key_approver", comment: status, now },
            decided(`approval.${status}`),
          ),
        ),
      );
      const wins = tries.filter((t) => t.ok);
      expect(wins).toHaveLength(1);
      const won = wins[0]?.approval as ApprovalRecord;
      expect(won).toMatchObject({ decidedAt: now, decidedBy: "key_approver", comment: won.status });
      for (const t of tries.filter((x) => !x.ok)) expect(t.approval?.status).toBe(won.status);
      expect((await allEvents(store)).map((e) => e.type)).toEqual(["approval.requested", `approval.${won.status}`]);
      const missing = await store.decideApproval(
        "apr_01JH0000000000000000000000",
        { status: "denied", by: "k", comment: null, now },
        decided("approval.denied"),
      );
      expect(missing).toEqual({ ok: false, approval: undefined });

      const late = approval({ id: newId("apr", T0 + 1) });
      await store.insertApproval(late, draft("approval.requested"));
      const at = late.expiresAt;
      // Not expirable before its deadline, not approvable at or after it.
      expect(
        (
          await store.decideApproval(
            late.id,
            { status: "expired", by: null, comment: null, now: at - 1 },
            decided("approval.expired"),
          )
        ).ok,
      ).toBe(false);
      expect(
        (
          await store.decideApproval(
            late.id,
            { status: "approved", by: "k", comment: null, now: at },
            decided("approval.approved"),
          )
        ).ok,
      ).toBe(false);
      const exp = await store.decideApproval(
        late.id,
        { status: "expired", by: null, comment: null, now: at },
        decided("approval.expired"),
      );
      expect(exp.ok).toBe(true);
      expect(exp.approval).toMatchObject({ status: "expired", decidedBy: null, decidedAt: at });
    });

    it("delivers an approved request's nonce exactly once, with the nonce in the same transaction", async () => {
      const a = approval();
      await store.insertApproval(a, draft("approval.requested"));
      const n1 = nonce();
      // Not approved yet: nothing is delivered or inserted.
      expect(await store.deliverApproval(a.id, n1, T0 + 2, draft("nonce.issued", { nonceId: n1.id }))).toBe(false);
      expect(await store.getNonce(n1.id)).toBeUndefined();
      await store.decideApproval(
        a.id,
        { status: "approved", by: "key_approver", comment: null, now: T0 + 1 },
        decided("approval.approved"),
      );
      const candidates = [nonce(), nonce(), nonce()];
      const results = await Promise.all(
        candidates.map((n) => store.deliverApproval(a.id, rec(n), T0 + 2, draft("nonce.issued", { nonceId: n.id }))),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = candidates[results.indexOf(true)] as NonceRecord & { token: string };
      const inserted = await Promise.all(candidates.map((n) => store.getNonce(n.id)));
      expect(inserted.filter((x) => x !== undefined).map((x) => x?.id)).toEqual([winner.id]);
      expect(await store.getApproval(a.id)).toMatchObject({ nonceId: winner.id, deliveredAt: T0 + 2 });
      const issued = (await allEvents(store)).filter((e) => e.type === "nonce.issued");
      expect(issued.map((e) => e.nonceId)).toEqual([winner.id]);
    });
  });
});
