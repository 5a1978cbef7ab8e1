import type { ExpressionBuilder, Kysely } from "kysely";
import { AppError } from "../core/errors.js";
import type { NonceStatus } from "../core/types.js";
import { auditCursor, nonceCursor } from "./rows.js";
import type { Database } from "./schema.js";
import type { AuditFilter, NonceFilter, PageRequest, RevokeFilter } from "./store.js";

/**
 * Dynamic (filtered) queries, built with kysely and shared by both dialects. Each dialect either executes them
 * through kysely or compiles them and runs them inside its own transaction. Values are always parameters.
 */

type NonceEb = ExpressionBuilder<Database, "nonces">;

/** SQL form of core/nonces.ts `nonceStatus` (precedence: revoked, exhausted, expired, active). */
function statusIs(eb: NonceEb, status: NonceStatus, now: number) {
  const notRevoked = eb("revoked_at", "is", null);
  const exhausted = eb.and([eb("max_uses", "is not", null), eb("uses", ">=", eb.ref("max_uses"))]);
  const notExhausted = eb.or([eb("max_uses", "is", null), eb("uses", "<", eb.ref("max_uses"))]);
  switch (status) {
    case "revoked":
      return eb("revoked_at", "is not", null);
    case "exhausted":
      return eb.and([notRevoked, exhausted]);
    case "expired":
      return eb.and([notRevoked, notExhausted, eb("expires_at", "<=", now)]);
    case "active":
      return eb.and([notRevoked, notExhausted, eb("expires_at", ">", now)]);
  }
}

export function listNoncesQuery(db: Kysely<Database>, f: NonceFilter, page: PageRequest, now: number) {
  let q = db.selectFrom("nonces").selectAll();
  if (f.agent !== undefined) q = q.where("agent", "=", f.agent);
  if (f.task !== undefined) q = q.where("task", "=", f.task);
  if (f.service !== undefined) q = q.where("service", "=", f.service);
  if (f.issuedBy !== undefined) q = q.where("issued_by", "=", f.issuedBy);
  const status = f.status;
  if (status !== undefined) q = q.where((eb) => statusIs(eb, status, now));
  if (page.cursor !== undefined) q = q.where("id", "<", nonceCursor.decode(page.cursor));
  return q.orderBy("id", "desc").limit(page.limit + 1);
}

/** Revokes the unrevoked, unexpired nonces matching the filter and returns them as they are afterwards. */
export function revokeNoncesQuery(db: Kysely<Database>, f: RevokeFilter, now: number) {
  if (f.task === undefined && f.agent === undefined && f.service === undefined && f.issuedBy === undefined) {
    throw new AppError("invalid_request", "revoke needs at least one of task, agent, service");
  }
  let q = db
    .updateTable("nonces")
    .set({ revoked_at: now })
    .where("revoked_at", "is", null)
    .where("expires_at", ">", now);
  if (f.task !== undefined) q = q.where("task", "=", f.task);
  if (f.agent !== undefined) q = q.where("agent", "=", f.agent);
  if (f.service !== undefined) q = q.where("service", "=", f.service);
  if (f.issuedBy !== undefined) q = q.where("issued_by", "=", f.issuedBy);
  return q.returningAll();
}

const AUDIT_COLUMNS = [
  "seq",
  "id",
  "time",
  "type",
  "actor",
  "agent",
  "task",
  "nonce_id",
  "service",
  "scopes",
  "reason",
  "request",
  "source_ip",
  "data",
  "prev_hash",
  "hash",
] as const;

export function listAuditQuery(db: Kysely<Database>, f: AuditFilter, page: PageRequest) {
  let q = db.selectFrom("audit_events").select(AUDIT_COLUMNS);
  if (f.agent !== undefined) q = q.where("agent", "=", f.agent);
  if (f.task !== undefined) q = q.where("task", "=", f.task);
  if (f.nonceId !== undefined) q = q.where("nonce_id", "=", f.nonceId);
  if (f.service !== undefined) q = q.where("service", "=", f.service);
  if (f.type !== undefined) q = q.where("type", "=", f.type);
  if (f.since !== undefined) q = q.where("time", ">=", f.since);
  if (f.until !== undefined) q = q.where("time", "<", f.until);
  const issuedBy = f.issuedBy;
  if (issuedBy !== undefined) {
    q = q.where((eb) => eb.or([eb("issued_by", "=", issuedBy), eb("actor_id", "=", issuedBy)]));
  }
  if (page.cursor !== undefined) q = q.where("seq", ">", auditCursor.decode(page.cursor));
  return q.orderBy("seq", "asc").limit(page.limit + 1);
}

export function scanAuditQuery(db: Kysely<Database>, afterSeq: number, limit: number) {
  return db.selectFrom("audit_events").select(AUDIT_COLUMNS).where("seq", ">", afterSeq).orderBy("seq").limit(limit);
}

export function listCheckpointsQuery(db: Kysely<Database>, afterSeq: number, limit: number) {
  return db
    .selectFrom("audit_checkpoints")
    .selectAll()
    .where("seq", ">", afterSeq)
    .orderBy("seq")
    .orderBy("kid")
    .limit(limit);
}

export function latestCheckpointQuery(db: Kysely<Database>, opts: { maxSeq?: number; kids?: readonly string[] }) {
  let q = db.selectFrom("audit_checkpoints").selectAll();
  if (opts.maxSeq !== undefined) q = q.where("seq", "<=", opts.maxSeq);
  if (opts.kids !== undefined) {
    // An empty list matches nothing (kysely cannot render `IN ()`).
    if (opts.kids.length === 0) q = q.where("kid", "=", "");
    else q = q.where("kid", "in", [...opts.kids]);
  }
  return q.orderBy("seq", "desc").orderBy("kid").limit(1);
}
