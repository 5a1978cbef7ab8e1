import type { AuditEvent } from "../core/types.js";
import type { AuditFilter, AuditStore, Page, PageRequest } from "../store/store.js";
import type { Caller } from "./audit-draft.js";
import { requireRole } from "./auth.js";
import type { AppContext } from "./context.js";

/** Audit reads. Issuers see only the events of nonces they issued (the store joins on the issuing key). */
export async function queryAudit(
  ctx: AppContext<AuditStore>,
  caller: Caller,
  filter: Omit<AuditFilter, "issuedBy">,
  page: PageRequest,
): Promise<Page<AuditEvent>> {
  requireRole(caller.key, "admin", "auditor", "issuer");
  const issuedBy = caller.key.role === "issuer" ? caller.key.id : undefined;
  return ctx.store.listAudit({ ...filter, issuedBy }, page);
}

/**
 * Whole-trail operations (verify, checkpoints, export) see every event, so they are for admins and auditors
 * only: an issuer's view is a filtered subset that cannot be verified as a chain anyway.
 */
export function requireWholeTrail(caller: Caller): void {
  requireRole(caller.key, "admin", "auditor");
}
