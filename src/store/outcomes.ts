import { nonceStatus } from "../core/nonces.js";
import { parseRate, type RateDecision, takeRate } from "../core/rate.js";
import type { AuditType, NonceRecord } from "../core/types.js";
import type { NonceRow } from "./schema.js";
import type { RejectReason } from "./store.js";

/** Why a nonce that the atomic consume did not count was refused (same precedence as `nonceStatus`). */
export function rejectReason(n: NonceRecord | null, now: number): RejectReason {
  if (n === null) return "nonce_invalid";
  switch (nonceStatus(n, now)) {
    case "revoked":
      return "nonce_revoked";
    case "exhausted":
      return "nonce_exhausted";
    case "expired":
      return "nonce_expired";
    case "active":
      // Only reachable if another writer changed the row between the two statements; refuse, never guess.
      return "nonce_invalid";
  }
}

/**
 * The rate decision for a row the consume found usable at `now` (every dialect and path decides with this, on the
 * locked row, in the transaction that counts the use); null when the nonce has no rate.
 */
export function rateDecision(
  r: Pick<NonceRow, "rate" | "rate_tat" | "rate_tat_frac">,
  now: number,
): RateDecision | null {
  if (r.rate === null) return null;
  const tat = r.rate_tat == null ? null : { ms: Number(r.rate_tat), frac: Number(r.rate_tat_frac ?? 0) };
  return takeRate(parseRate(r.rate), tat, now);
}

/** putService callers cannot know beforehand whether the name exists; the store records what happened. */
export function serviceAuditType(type: AuditType, created: boolean): AuditType {
  if (type !== "service.created" && type !== "service.updated") return type;
  return created ? "service.created" : "service.updated";
}
