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
