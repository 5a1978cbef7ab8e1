import { afterEach, describe, expect, it } from "vitest";
import { newId } from "../core/ids.js";
import { generateToken, hashToken } from "../core/tokens.js";
import type { ApiKeyRecord } from "../core/types.js";
import { type TestContext, testContext } from "../test/context.js";
import { createApiKeyCache } from "./api-key-cache.js";

let ctx: TestContext | undefined;
afterEach(async () => {
  await ctx?.close();
});

async function addKey(c: TestContext): Promise<{ rec: ApiKeyRecord; hash: Buffer }> {
  const hash = hashToken(generateToken("ank"));
  const now = c.clock.now();
  const rec: ApiKeyRecord = {
    id: newId("key", now),
    name: "k",
    role: "admin",
    policy: null,
    keyHash: hash,
    createdBy: null,
    createdAt: now,
    revokedAt: null,
  };
  await c.store.insertApiKey(rec, null);
  return { rec, hash };
}

function revokeDraft(now: number) {
  return {
    id: newId("evt", now),
    time: now,
    type: "key.revoked" as const,
    actor: null,
    agent: null,
    task: null,
    nonceId: null,
    service: null,
    scopes: null,
    reason: null,
    request: null,
    sourceIp: null,
    data: null,
  };
}

describe("API key cache", () => {
  it("serves repeated lookups from memory and never caches a miss", async () => {
    ctx = await testContext();
    const c = ctx;
    const cache = createApiKeyCache(c, { ttlMs: 60_000 });
    const { rec, hash } = await addKey(c);
    let lookups = 0;
    const real = c.store.getApiKeyByHash.bind(c.store);
    c.store.getApiKeyByHash = (h) => {
      lookups += 1;
      return real(h);
    };
    expect((await cache.get(hash))?.id).toBe(rec.id);
    expect((await cache.get(hash))?.id).toBe(rec.id);
    expect(lookups).toBe(1);
    const unknown = hashToken(generateToken("ank"));
    expect(await cache.get(unknown)).toBeUndefined();
    expect(await cache.get(unknown)).toBeUndefined();
    expect(lookups).toBe(3);
    cache.dispose();
  });

  it("a revocation in this process takes effect on the next request", async () => {
    ctx = await testContext();
    const c = ctx;
    const cache = createApiKeyCache(c, { ttlMs: 60_000 });
    const { rec, hash } = await addKey(c);
    expect((await cache.get(hash))?.revokedAt).toBeNull();
    await c.store.revokeApiKey(rec.id, c.clock.now(), revokeDraft(c.clock.now()));
    c.events.emit("key.revoked", rec.id);
    expect((await cache.get(hash))?.revokedAt).not.toBeNull();
    cache.dispose();
  });

  it("a revocation elsewhere (another replica) is seen once the entry ages out", async () => {
    ctx = await testContext();
    const c = ctx;
    const cache = createApiKeyCache(c, { ttlMs: 0 });
    const { rec, hash } = await addKey(c);
    await cache.get(hash);
    await c.store.revokeApiKey(rec.id, c.clock.now(), revokeDraft(c.clock.now()));
    expect((await cache.get(hash))?.revokedAt).not.toBeNull();
    cache.dispose();
  });
});
