import { nonceStatus } from "../core/nonces.js";
import type { AuditType, NonceRecord } from "../core/types.js";
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

/** putService callers cannot know beforehand whether the name exists; the store records what happened. */
export function serviceAuditType(type: AuditType, created: boolean): AuditType {
  if (type !== "service.created" && type !== "service.updated") return type;
  return created ? "service.created" : "service.updated";
}
