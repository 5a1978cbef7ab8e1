import { AppError } from "../core/errors.js";
import { isId } from "../core/ids.js";
import type { ApprovalRecord, ApprovalStatus } from "../core/types.js";
import type { ApprovalRow } from "./schema.js";
import type { ApprovalDecision, ApprovalFilter, PageRequest } from "./store.js";

/**
 * Approval rows and the statements both dialects share. Written with `?` placeholders; `pgParams` numbers them
 * for PostgreSQL. Values are always bound, never interpolated.
 */

export const APPROVAL_COLUMNS = [
  "id",
  "status",
  "requested_by",
  "service",
  "agent",
  "task",
  "scopes",
  "request",
  "created_at",
  "expires_at",
  "decided_at",
  "decided_by",
  "comment",
  "nonce_id",
  "delivered_at",
] as const;

export const INSERT_APPROVAL = `INSERT INTO approvals (${APPROVAL_COLUMNS.join(", ")}) VALUES (${APPROVAL_COLUMNS.map(() => "?").join(", ")})`;
export const APPROVAL_BY_ID = "SELECT * FROM approvals WHERE id = ?";

export function approvalValues(a: ApprovalRecord): unknown[] {
  const r = approvalToRow(a);
  return APPROVAL_COLUMNS.map((c) => r[c]);
}

export function approvalToRow(a: ApprovalRecord): ApprovalRow {
  return {
    id: a.id,
    status: a.status,
    requested_by: a.requestedBy,
    service: a.service,
    agent: a.agent,
    task: a.task,
    scopes: JSON.stringify(a.scopes),
    request: JSON.stringify(a.request),
    created_at: a.createdAt,
    expires_at: a.expiresAt,
    decided_at: a.decidedAt,
    decided_by: a.decidedBy,
    comment: a.comment,
    nonce_id: a.nonceId,
    delivered_at: a.deliveredAt,
  };
}

export function approvalFromRow(r: ApprovalRow): ApprovalRecord {
  const n = (v: number | string | null) => (v === null ? null : Number(v));
  return {
    id: r.id,
    status: r.status as ApprovalStatus,
    requestedBy: r.requested_by,
    service: r.service,
    agent: r.agent,
    task: r.task,
    scopes: JSON.parse(r.scopes),
    request: JSON.parse(r.request),
    createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at),
    decidedAt: n(r.decided_at),
    decidedBy: r.decided_by,
    comment: r.comment,
    nonceId: r.nonce_id,
    deliveredAt: n(r.delivered_at),
  };
}

/** The conditional update behind `decideApproval`: only a pending row, and only on the right side of its deadline. */
export function decideStatement(id: string, d: ApprovalDecision): { sql: string; params: unknown[] } {
  const deadline = d.status === "expired" ? "expires_at <= ?" : "expires_at > ?";
  return {
    sql: `UPDATE approvals SET status = ?, decided_at = ?, decided_by = ?, comment = ? WHERE id = ? AND status = 'pending' AND ${deadline} RETURNING *`,
    params: [d.status, d.now, d.by, d.comment, id, d.now],
  };
}

export const DELIVER_APPROVAL =
  "UPDATE approvals SET nonce_id = ?, delivered_at = ? WHERE id = ? AND status = 'approved' AND delivered_at IS NULL";

const cursorOf = (id: string) => Buffer.from(id, "utf8").toString("base64url");

export function listApprovalsStatement(f: ApprovalFilter, page: PageRequest): { sql: string; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  if (f.status !== undefined) {
    where.push("status = ?");
    params.push(f.status);
  }
  if (f.requestedBy !== undefined) {
    where.push("requested_by = ?");
    params.push(f.requestedBy);
  }
  if (f.pendingDueBy !== undefined) {
    where.push("status = 'pending' AND expires_at <= ?");
    params.push(f.pendingDueBy);
  }
  if (page.cursor !== undefined) {
    const id = Buffer.from(page.cursor, "base64url").toString("utf8");
    if (!isId(id, "apr") || cursorOf(id) !== page.cursor) throw new AppError("invalid_request", "invalid cursor");
    where.push("id < ?");
    params.push(id);
  }
  params.push(page.limit + 1);
  const clause = where.length > 0 ? `WHERE ${where.join(" AND ")} ` : "";
  return { sql: `SELECT * FROM approvals ${clause}ORDER BY id DESC LIMIT ?`, params };
}

export function approvalPage(rows: ApprovalRow[], limit: number) {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  const last = kept[kept.length - 1];
  return { items: kept.map(approvalFromRow), nextCursor: more && last ? cursorOf(last.id) : null };
}

/** `?` → `$1, $2, …` (the statements above hold no `?` inside literals). */
export function pgParams(sql: string): string {
  let i = 0;
  return sql.replace(/\?/g, () => `$${++i}`);
}
