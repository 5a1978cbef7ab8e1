import type { NonceRecord, NonceStatus } from "./types.js";

/** Status precedence: revoked, then exhausted, then expired, then active. */
export function nonceStatus(
  n: Pick<NonceRecord, "revokedAt" | "expiresAt" | "uses" | "maxUses">,
  now: number,
): NonceStatus {
  if (n.revokedAt !== null) return "revoked";
  if (n.maxUses !== null && n.uses >= n.maxUses) return "exhausted";
  if (n.expiresAt <= now) return "expired";
  return "active";
}

/**
 * Whether a use may be counted at `now`: the one definition of a usable nonce (its status is `active`). The
 * stores' SQL form is `usableNonceSql` (store/queries.ts) and the status filter `statusIs`; a test runs a grid of
 * states through all three on both dialects (store/usable-nonce.conformance.test.ts).
 */
export function isUsable(n: Pick<NonceRecord, "revokedAt" | "expiresAt" | "uses" | "maxUses">, now: number): boolean {
  return nonceStatus(n, now) === "active";
}
