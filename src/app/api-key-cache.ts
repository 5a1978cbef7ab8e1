import type { ApiKeyRecord } from "../core/types.js";
import type { ApiKeyStore } from "../store/store.js";
import type { AppContext } from "./context.js";

/**
 * A short cache of API-key lookups by token hash for the control plane's hot path (every /v1 request
 * authenticates). Revocation drops every entry at once ("key.revoked", from any replica through the PostgreSQL
 * change feed); the time bound (default 1 s) is the fallback when the feed is down.
 * Misses are not cached, so a key created anywhere works immediately. Bounded in size.
 */
export interface ApiKeyCache {
  get(hash: Buffer): Promise<ApiKeyRecord | undefined>;
  dispose(): void;
}

export function createApiKeyCache(
  ctx: AppContext<ApiKeyStore>,
  opts: { ttlMs?: number; max?: number } = {},
): ApiKeyCache {
  const ttlMs = opts.ttlMs ?? 1000;
  const max = opts.max ?? 10_000;
  const entries = new Map<string, { rec: ApiKeyRecord; at: number }>();
  let generation = 0;
  const onRevoke = () => {
    generation += 1;
    entries.clear();
  };
  ctx.events.on("key.revoked", onRevoke);
  ctx.events.on("replica.resync", onRevoke);
  return {
    async get(hash) {
      const k = hash.toString("base64");
      const now = performance.now();
      const hit = entries.get(k);
      if (hit && now - hit.at < ttlMs) return hit.rec;
      const gen = generation;
      const rec = await ctx.store.getApiKeyByHash(hash);
      if (rec && rec.revokedAt === null && gen === generation) {
        if (entries.size >= max) entries.delete(entries.keys().next().value as string);
        entries.set(k, { rec, at: now });
      } else {
        entries.delete(k);
      }
      return rec;
    },
    dispose() {
      ctx.events.off("key.revoked", onRevoke);
      ctx.events.off("replica.resync", onRevoke);
      entries.clear();
    },
  };
}
