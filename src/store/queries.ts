import type { Expression, ExpressionBuilder, Kysely, SqlBool } from "kysely";
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

/**
 * SQL form of core/nonces.ts `isUsable` on a `nonces` row, with `now` as the given placeholder (`$2`, `?`): the
 * condition PostgreSQL's consume counts a use under. Tied to `isUsable` by usable-nonce.conformance.test.ts.
 */
export const usableNonceSql = (now: string): string =>
  `revoked_at IS NULL AND (max_uses IS NULL OR uses < max_uses) AND expires_at > ${now}`;

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

type AuditIndexEb = ExpressionBuilder<Database, "audit_index">;

/**
 * The listAudit filter and cursor. audit_events has every column of audit_index (SQLite, migration 005) with
 * the same types, so one builder serves both tables.
 */
function auditConditions(eb: AuditIndexEb, f: AuditFilter, page: PageRequest): Expression<SqlBool>[] {
  const c: Expression<SqlBool>[] = [];
  if (f.agent !== undefined) c.push(eb("agent", "=", f.agent));
  if (f.task !== undefined) c.push(eb("task", "=", f.task));
  if (f.nonceId !== undefined) c.push(eb("nonce_id", "=", f.nonceId));
  if (f.service !== undefined) c.push(eb("service", "=", f.service));
  if (f.type !== undefined) c.push(eb("type", "=", f.type));
  if (f.since !== undefined) c.push(eb("time", ">=", f.since));
  if (f.until !== undefined) c.push(eb("time", "<", f.until));
  if (f.issuedBy !== undefined) c.push(eb.or([eb("issued_by", "=", f.issuedBy), eb("actor_id", "=", f.issuedBy)]));
  if (page.cursor !== undefined) c.push(eb("seq", ">", auditCursor.decode(page.cursor)));
  return c;
}

/** The page straight from audit_events: PostgreSQL, and SQLite when audit_index cannot be caught up. */
export function listAuditQuery(db: Kysely<Database>, f: AuditFilter, page: PageRequest) {
  return db
    .selectFrom("audit_events")
    .select(AUDIT_COLUMNS)
    .where((eb) => eb.and(auditConditions(eb as unknown as AuditIndexEb, f, page)))
    .orderBy("seq", "asc")
    .limit(page.limit + 1);
}

/**
 * SQLite: the page's seqs from audit_index (its `(column, seq)` indexes give them in seq order), then those
 * rows of audit_events by primary key. Exact only once audit_index has caught up (sqlite-audit-index.ts).
 */
export function listAuditIndexedQuery(db: Kysely<Database>, f: AuditFilter, page: PageRequest) {
  const seqs = db
    .selectFrom("audit_index")
    .select("seq")
    .where((eb) => eb.and(auditConditions(eb, f, page)))
    .orderBy("seq", "asc")
    .limit(page.limit + 1);
  return db.selectFrom("audit_events").select(AUDIT_COLUMNS).where("seq", "in", seqs).orderBy("seq", "asc");
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
