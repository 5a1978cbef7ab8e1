import type { AuditEvent, NonceRecord } from "../core/types.js";
import type { AuditStore, NonceStore, Page, PageRequest } from "../store/store.js";
import type { Caller } from "./audit-draft.js";
import { requireRole } from "./auth.js";
import type { AppContext } from "./context.js";

/**
 * "What did the agent do in task X": the task's nonces (oldest first) and its audit events in chain order —
 * issuance, every use and its outcome, rejections, denials, revocation. Issuers see only their own nonces and
 * the events of those nonces (plus their own denials), exactly as in /v1/nonces and /v1/audit.
 */
export const TASK_NONCES_MAX = 1000;

export async function taskReport(
  ctx: AppContext<NonceStore & AuditStore>,
  caller: Caller,
  task: string,
  page: PageRequest,
): Promise<{ nonces: NonceRecord[]; noncesTruncated: boolean; events: Page<AuditEvent> }> {
  requireRole(caller.key, "admin", "auditor", "issuer");
  const issuedBy = caller.key.role === "issuer" ? caller.key.id : undefined;
  const nonces: NonceRecord[] = [];
  let cursor: string | undefined;
  let truncated = false;
  for (;;) {
    const p = await ctx.store.listNonces({ task, issuedBy }, { limit: 500, cursor }, ctx.clock.now());
    nonces.push(...p.items);
    if (!p.nextCursor) break;
    if (nonces.length >= TASK_NONCES_MAX) {
      truncated = true;
      break;
    }
    cursor = p.nextCursor;
  }
  // Listed newest first by the store; a task reads oldest first. Ids are time-sortable.
  nonces.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const events = await ctx.store.listAudit({ task, issuedBy }, page);
  return { nonces: nonces.slice(0, TASK_NONCES_MAX), noncesTruncated: truncated, events };
}
