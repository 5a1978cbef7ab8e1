import type { StoreLifecycle } from "../store/store.js";

/**
 * Readiness, shared by the control plane's and the gateway's `GET /readyz`: ready only when the store answers and
 * its schema is the one this build expects. A replica started by a newer rollout against a database an older one
 * has not migrated yet (or the reverse) must not take traffic; a load balancer reads this, never a nonce.
 */
export type Readiness =
  | { ready: true }
  | { ready: false; reason: "store_unreachable" | "schema_not_current"; pending?: number[] };

export async function checkReadiness(store: StoreLifecycle): Promise<Readiness> {
  let pending: number[];
  try {
    pending = await store.pendingMigrations();
  } catch {
    return { ready: false, reason: "store_unreachable" };
  }
  return pending.length === 0 ? { ready: true } : { ready: false, reason: "schema_not_current", pending };
}
