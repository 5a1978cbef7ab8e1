import { nonceDraft } from "../../app/audit-draft.js";
import type { AuditDraft, AuditType } from "../../core/types.js";
import type { NonceInfo } from "../caches.js";
import { type DeadReason, deadReason, isDeadReason } from "../dead-nonces.js";
import { sendError } from "../errors.js";
import type { Presentation } from "../tripwires.js";
import type { PipelineDeps } from "./deps.js";
import type { Exchange, Rejection, Subject } from "./exchange.js";

/**
 * The one place a rejection becomes an answer: the dead-nonce check a refusal short of the consume owes
 * (SECURITY.md rule 14), the 401 of a dead nonce (counted, tripwire, coalesced audit), the `nonce.rejected`
 * event, the metric, the error response, and `nonce.completed` for a request whose use was already counted.
 */
export async function answer(d: PipelineDeps, x: Exchange, r: Rejection): Promise<void> {
  const s = r.subject;
  if (s !== undefined) {
    if (r.unlessDead) {
      const instead = await deadInstead(d, x, s);
      if (instead !== null) return answer(d, x, instead);
    }
    if (isDeadReason(r.rejected)) return refuseDead(d, x, s, r.rejected);
    if (r.audit === "nonce_invalid" && r.coalesce) await coalesced(d, x, s, r.audit, r.auditData);
    else if (r.audit !== undefined) await auditRejected(d, x, s, r.audit, r.auditData);
  }
  send(d, x, r);
  if (r.completes && s !== undefined) completed(d, x, s, x.res.statusCode, 0);
}

/** The metric and the error response. */
export function send(d: PipelineDeps, x: Exchange, r: Rejection): void {
  d.ctx.metrics.gatewayTally.request(r.subject?.nonce.service ?? "", r.rejected);
  if (r.rejected === "payload_too_large") x.res.shouldKeepAlive = false;
  sendError(x.res, r.rejected, r.message, x.requestId, r.retryAfterS);
}

/** An audit draft about this request's nonce; `at` is the exchange itself (its now, sourceIp and requestId). */
export function draft(
  x: Exchange,
  type: AuditType,
  n: NonceInfo | Parameters<typeof nonceDraft>[1],
  reason: string | null,
  path: string,
): AuditDraft {
  return nonceDraft(type, n, reason, { method: x.method, path, status: null, duration_ms: null, bytes: null }, x);
}

/** The `nonce.completed` event, queued after the response (batched, off the response path; see CompletionLog). */
export function completed(d: PipelineDeps, x: Exchange, s: Subject, status: number, bytes: number): void {
  const durationMs = Math.round((performance.now() - x.started) * 1000) / 1000;
  const request = { method: x.method, path: s.path, status, duration_ms: durationMs, bytes };
  d.completions.push(
    nonceDraft("nonce.completed", s.nonce, null, request, {
      now: d.ctx.clock.now(),
      sourceIp: x.sourceIp,
      requestId: x.requestId,
    }),
  );
}

export function presentation(x: Exchange): Presentation {
  return { method: x.method, rawUrl: x.req.url, sourceIp: x.sourceIp, now: x.now, requestId: x.requestId };
}

/**
 * A fresh read of the nonce's status before a refusal short of the consume: a dead nonce's 401 (or, when the
 * nonce is gone or the store unreachable, the answer for that: fail closed) instead; null while it is alive.
 */
async function deadInstead(d: PipelineDeps, x: Exchange, s: Subject): Promise<Rejection | null> {
  let status: Awaited<ReturnType<PipelineDeps["ctx"]["store"]["getNonceStatus"]>>;
  try {
    status = await d.ctx.store.getNonceStatus(s.key, x.now);
  } catch (e) {
    d.ctx.log.error({ err: errName(e), request_id: x.requestId }, "gateway nonce status read failed");
    return { rejected: "unavailable", message: "the credential store is unavailable", subject: s };
  }
  if (status === undefined) return { rejected: "nonce_invalid", message: "nonce is not valid", subject: s };
  const reason = deadReason(status);
  return reason === null ? null : { rejected: reason, message: deadMessage(reason), subject: s };
}

/** The 401 of a dead nonce: remembered, counted, coalesced in the audit log (the first of a window written first). */
async function refuseDead(d: PipelineDeps, x: Exchange, s: Subject, reason: DeadReason): Promise<void> {
  const n = s.nonce;
  d.caches.dead.mark(n.id, reason);
  d.ctx.metrics.deadNoncePresentations.inc({ reason });
  await d.tripwires.dead(n, reason, presentation(x));
  const first = d.deadLog.present({
    nonce: n,
    reason,
    now: x.now,
    method: x.method,
    path: s.path,
    sourceIp: x.sourceIp,
    requestId: x.requestId,
  });
  if (first) await first;
  send(d, x, { rejected: reason, message: deadMessage(reason), subject: s });
}

/**
 * A refusal anyone who knows the nonce id can provoke (Rejection.coalesce): its `nonce.rejected` coalesced like a
 * dead nonce's, the first of a window written before the answer, the repeats counted and written off the request path.
 */
async function coalesced(
  d: PipelineDeps,
  x: Exchange,
  s: Subject,
  reason: "nonce_invalid",
  data: Record<string, unknown> | undefined,
): Promise<void> {
  const first = d.deadLog.present({
    nonce: s.nonce,
    reason,
    ...(data === undefined ? {} : { data }),
    now: x.now,
    method: x.method,
    path: s.path,
    sourceIp: x.sourceIp,
    requestId: x.requestId,
  });
  if (first) await first;
}

/** A denial before consuming: `nonce.rejected`, best effort (the request is refused either way). */
async function auditRejected(
  d: PipelineDeps,
  x: Exchange,
  s: Subject,
  reason: string,
  data: Record<string, unknown> | undefined,
): Promise<void> {
  const event = draft(x, "nonce.rejected", s.nonce, reason, s.path);
  if (data) event.data = { ...event.data, ...data };
  try {
    await d.ctx.store.appendAudit([event]);
  } catch (e) {
    d.ctx.metrics.auditWriteFailures.inc();
    d.ctx.log.error({ err: errName(e), request_id: x.requestId }, "gateway audit write failed");
  }
}

export function deadMessage(reason: DeadReason | "nonce_invalid"): string {
  switch (reason) {
    case "nonce_invalid":
      return "nonce is not valid";
    case "nonce_expired":
      return "nonce has expired";
    case "nonce_revoked":
      return "nonce has been revoked";
    case "nonce_exhausted":
      return "nonce has no uses left";
  }
}

/** Only the error's class/code reaches logs: messages from I/O layers can carry URLs. */
export function errName(e: unknown): string {
  if (e && typeof e === "object") {
    const code = (e as { code?: unknown }).code;
    const name = (e as { name?: unknown }).name;
    return `${typeof name === "string" ? name : "Error"}${typeof code === "string" ? ` ${code}` : ""}`;
  }
  return typeof e;
}
