import { AppError } from "../core/errors.js";
import { newId } from "../core/ids.js";
import type { Actor, ApprovalRecord, ApprovalStatus, AuditDraft } from "../core/types.js";
import type { ApprovalStore, AuditStore, NonceStore, Page, PageRequest } from "../store/store.js";
import { auditDraft, type Caller, draftEvent } from "./audit-draft.js";
import { requireRole } from "./auth.js";
import type { AppContext } from "./context.js";
import { buildNonce, type IssuedNonce, type IssuePlan, insertIssued } from "./issue-nonce.js";
import type { ServiceCache } from "./service-cache.js";

/**
 * Human approvals (DESIGN.md "Approvals"). A request under a rule with `approval.required` is stored with its
 * issuance plan and waits. An admin or approver key decides it (never the requester); the store's conditional
 * update makes the first decision win on any number of replicas. Nothing is issued until the requester reads
 * the approved request: then the nonce is created and inserted in the same transaction that marks the request
 * delivered, so the token exists once, in that one answer, and is never stored. Its TTL counts from the
 * decision. A request nobody answers expires as denied, at read time and by the sweep (`expireDue`).
 */

const SYSTEM: Actor = { type: "system", id: "approvals", name: "approval expiry" };

function eventFields(a: ApprovalRecord, data: Record<string, unknown>) {
  return {
    agent: a.agent,
    task: a.task,
    service: a.service,
    scopes: a.scopes,
    data: { approval_id: a.id, ...data },
  };
}

export async function requestApproval(
  ctx: AppContext<ApprovalStore>,
  caller: Caller,
  plan: IssuePlan,
  timeoutMs: number,
  now: number,
): Promise<ApprovalRecord> {
  const a: ApprovalRecord = {
    id: newId("apr", now),
    status: "pending",
    requestedBy: caller.key.id,
    service: plan.service,
    agent: plan.agent,
    task: plan.task,
    scopes: plan.scopes,
    request: plan as unknown as Record<string, unknown>,
    createdAt: now,
    expiresAt: now + timeoutMs,
    decidedAt: null,
    decidedBy: null,
    comment: null,
    nonceId: null,
    deliveredAt: null,
  };
  const data = {
    requested_by: caller.key.id,
    requested_by_name: caller.key.name,
    expires_at: new Date(a.expiresAt).toISOString(),
    ttl_s: Math.round(plan.ttlMs / 1000),
  };
  await ctx.store.insertApproval(a, auditDraft(ctx, caller, "approval.requested", eventFields(a, data), now));
  return a;
}

const notFound = (id: string) => new AppError("approval_not_found", `no approval with id ${JSON.stringify(id)}`);

/** Marks an overdue pending request expired (once, whoever gets there first). Returns it as it now is. */
async function expire(ctx: AppContext<ApprovalStore>, a: ApprovalRecord, now: number): Promise<ApprovalRecord> {
  const r = await ctx.store.decideApproval(a.id, { status: "expired", by: null, comment: null, now }, (x) =>
    draftEvent("approval.expired", SYSTEM, eventFields(x, { requested_by: x.requestedBy }), now),
  );
  return r.approval ?? a;
}

/** The sweep: expires every overdue pending request (up to `limit`). Returns how many it expired. */
export async function expireDue(ctx: AppContext<ApprovalStore>, limit = 500): Promise<number> {
  const now = ctx.clock.now();
  const due = await ctx.store.listApprovals({ pendingDueBy: now }, { limit });
  let n = 0;
  for (const a of due.items) if ((await expire(ctx, a, now)).status === "expired") n++;
  return n;
}

/** Admins, approvers and auditors read every request; an issuer only its own (another's is not found). */
function mayRead(caller: Caller, a: ApprovalRecord): boolean {
  return caller.key.role !== "issuer" || a.requestedBy === caller.key.id;
}

export interface ApprovalRead {
  approval: ApprovalRecord;
  /** Present once: in the requester's first read after approval. */
  issued?: IssuedNonce;
}

export async function readApproval(
  ctx: AppContext<ApprovalStore & NonceStore & AuditStore>,
  services: ServiceCache,
  caller: Caller,
  id: string,
): Promise<ApprovalRead> {
  requireRole(caller.key, "admin", "approver", "auditor", "issuer");
  let a = await ctx.store.getApproval(id);
  if (!a || !mayRead(caller, a)) throw notFound(id);
  const now = ctx.clock.now();
  if (a.status === "pending" && a.expiresAt <= now) a = await expire(ctx, a, now);
  if (a.status !== "approved" || a.deliveredAt !== null || a.requestedBy !== caller.key.id) return { approval: a };

  const plan = a.request as unknown as IssuePlan;
  const { issued } = await buildNonce(ctx, services, caller, plan, a.decidedAt ?? now, now);
  const delivered = await insertIssued(ctx, caller, issued.record, now, (record, audit: AuditDraft) =>
    ctx.store.deliverApproval(id, record, now, audit),
  );
  const after = (await ctx.store.getApproval(id)) ?? a;
  // Another read of the same requester won the delivery: this one shows the status only.
  return delivered ? { approval: after, issued } : { approval: after };
}

export async function listApprovalsFor(
  ctx: AppContext<ApprovalStore>,
  caller: Caller,
  status: ApprovalStatus | undefined,
  page: PageRequest,
): Promise<Page<ApprovalRecord>> {
  requireRole(caller.key, "admin", "approver", "auditor", "issuer");
  // Overdue requests are shown as what they are.
  await expireDue(ctx);
  const requestedBy = caller.key.role === "issuer" ? caller.key.id : undefined;
  return ctx.store.listApprovals({ status, requestedBy }, page);
}

export async function decideApproval(
  ctx: AppContext<ApprovalStore>,
  caller: Caller,
  id: string,
  decision: "approved" | "denied",
  comment: string | undefined,
): Promise<ApprovalRecord> {
  requireRole(caller.key, "admin", "approver");
  const a = await ctx.store.getApproval(id);
  if (!a) throw notFound(id);
  if (a.requestedBy === caller.key.id) {
    throw new AppError("forbidden", "the requester cannot decide its own approval request");
  }
  const now = ctx.clock.now();
  const type = decision === "approved" ? "approval.approved" : "approval.denied";
  const r = await ctx.store.decideApproval(
    id,
    { status: decision, by: caller.key.id, comment: comment ?? null, now },
    (x) =>
      auditDraft(
        ctx,
        caller,
        type,
        eventFields(x, { requested_by: x.requestedBy, ...(comment === undefined ? {} : { comment }) }),
        now,
      ),
  );
  if (r.ok && r.approval) return r.approval;
  let current = r.approval ?? a;
  if (current.status === "pending" && current.expiresAt <= now) current = await expire(ctx, current, now);
  if (current.status === "expired") throw new AppError("approval_expired", "this approval request has expired");
  throw new AppError("conflict", `this approval request was already ${current.status}`, { status: current.status });
}
