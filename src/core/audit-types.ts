/**
 * Every audit event type, once: the `AuditType` union, the API's `type` filters (list and stream) and the
 * console's filter menu all come from this list (a type the API could not filter on was how `trust.*` went missing).
 * Pure data, no imports: the console's bundle includes it as is.
 */
export const AUDIT_TYPES = [
  "nonce.issued",
  "nonce.issue_denied",
  "nonce.used",
  "nonce.completed",
  "nonce.rejected",
  "nonce.revoked",
  "nonce.delegated",
  "nonce.canary_tripped",
  "nonce.replayed",
  "service.created",
  "service.updated",
  "service.deleted",
  "credential.set",
  "credential.minted",
  "credential.destroyed",
  "credential.rotated",
  "credential.mint_failed",
  "key.created",
  "key.revoked",
  "trust.created",
  "trust.updated",
  "trust.deleted",
  "system.started",
  "master_key.rotated",
  "approval.requested",
  "approval.approved",
  "approval.denied",
  "approval.expired",
] as const;

export type AuditType = (typeof AUDIT_TYPES)[number];
