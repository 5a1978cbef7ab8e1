import type { ServiceRecord } from "../core/types.js";
import type { ServiceStore } from "../store/store.js";
import type { AppContext } from "./context.js";

/**
 * A ≤1 s cache of service records for the issuance hot path. Writes through this process emit "service.changed",
 * which drops the entry at once, on every replica through the PostgreSQL change feed; the time bound is the fallback.
 */
export interface ServiceCache {
  get(name: string): Promise<ServiceRecord | undefined>;
  dispose(): void;
}

export function createServiceCache(ctx: AppContext<ServiceStore>, ttlMs = 1000): ServiceCache {
  const entries = new Map<string, { rec: ServiceRecord; at: number }>();
  // Bumped on every change so a lookup that raced with a write never caches the older record.
  let generation = 0;
  const onChange = (name: string) => {
    generation += 1;
    entries.delete(name);
  };
  const onResync = () => {
    generation += 1;
    entries.clear();
  };
  ctx.events.on("service.changed", onChange);
  ctx.events.on("replica.resync", onResync);
  return {
    async get(name) {
      const now = ctx.clock.now();
      const hit = entries.get(name);
      if (hit && now - hit.at < ttlMs && now >= hit.at) return hit.rec;
      const gen = generation;
      const rec = await ctx.store.getService(name);
      if (rec && gen === generation) entries.set(name, { rec, at: now });
      else entries.delete(name);
      return rec;
    },
    dispose() {
      ctx.events.off("service.changed", onChange);
      ctx.events.off("replica.resync", onResync);
      entries.clear();
    },
  };
}
