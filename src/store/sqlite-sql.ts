import type { Database, Statement } from "better-sqlite3";
import { APPROVAL_BY_ID, DELIVER_APPROVAL, INSERT_APPROVAL } from "./approval-rows.js";
import { TRUST_COLUMNS } from "./rows.js";
import type { SqliteSynchronous } from "./sqlite-synchronous.js";

/**
 * Every SQLite statement text of the store, pragmas included, grouped by aggregate (the PostgreSQL texts are in
 * postgres-sql.ts). Other modules take their text from here and prepare it where they always did: the
 * per-request statements once per connection (`prepare` below, SqliteChain, writeTx, the audit indexer), the cold
 * paths per call. sqlite-sql.test.ts fails on SQL passed as a literal to prepare/pragma/exec anywhere else in
 * src/store, and prepares every text here against a freshly migrated database.
 *
 * Not here, on purpose:
 * - the kysely queries (queries.ts, checkpoints.ts, the reads in sqlite.ts and trust.ts): dialect-neutral
 *   builders compiled per call, not SQLite text;
 * - the approval builders `decideStatement` and `listApprovalsStatement` (approval-rows.ts): shared with
 *   PostgreSQL, built per call from the filter (the fixed approval texts are shared too, see APPROVALS);
 * - the migrations' DDL and MIGRATIONS_TABLE_SQLITE (migrations/): versioned with the schema they create.
 */

// --- Nonces -------------------------------------------------------------------------------------------------

export const NONCES = {
  // The consume reads the row, decides in JS (nonceStatus) and bumps the counter by rowid, all inside the batch's
  // IMMEDIATE transaction, so no other writer comes in between. One read serves the accept and the reject path,
  // and there is no RETURNING, which SQLite buffers in an ephemeral table per statement. Only the columns a use can
  // change, read as an array (prepare() makes it raw; the order is NonceUseState's): the rest of the nonce is fixed
  // at issuance and comes from the store's IssuedNonces (issued-nonces.ts).
  nonceForUse: "SELECT rowid, id, uses, revoked_at, rate_tat, rate_tat_frac FROM nonces WHERE token_key = ?",
  countUse: "UPDATE nonces SET uses = uses + 1 WHERE rowid = ?",
  // A nonce with a rate: the use and the rate state it moved to (core/rate.ts), in the same transaction.
  countRatedUse: "UPDATE nonces SET uses = uses + 1, rate_tat = ?, rate_tat_frac = ? WHERE rowid = ?",
  nonceByKey: "SELECT * FROM nonces WHERE token_key = ?",
  nonceStateByKey: "SELECT revoked_at, expires_at, uses, max_uses, parent_id FROM nonces WHERE token_key = ?",
  // Delegation: an ancestor's state, read by id while walking a chain (at most MAX_DELEGATION_DEPTH rows).
  nonceStateById: "SELECT revoked_at, expires_at, uses, max_uses, parent_id FROM nonces WHERE id = ?",
  // Revocation cascades to every descendant in the revoking transaction (views and lists show them revoked).
  revokeDescendants: `WITH RECURSIVE d(id) AS (
      SELECT id FROM nonces WHERE parent_id = ?
      UNION SELECT n.id FROM nonces n JOIN d ON n.parent_id = d.id)
    UPDATE nonces SET revoked_at = ? WHERE id IN (SELECT id FROM d) AND revoked_at IS NULL RETURNING *`,
  nonceById: "SELECT * FROM nonces WHERE id = ?",
  revokeOne: "UPDATE nonces SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL RETURNING *",
  insertNonce: `INSERT INTO nonces (id, token_key, service, scopes, routes, agent, task, max_uses, uses, constraints,
        metadata, rate, issued_by, created_at, expires_at, revoked_at, credential_params, parent_id, depth, canary)
       VALUES (@id, @token_key, @service, @scopes, @routes, @agent, @task, @max_uses, @uses, @constraints,
        @metadata, @rate, @issued_by, @created_at, @expires_at, @revoked_at, @credential_params, @parent_id, @depth,
        @canary)`,
  deleteExpired:
    "DELETE FROM nonces WHERE id IN (SELECT id FROM nonces WHERE expires_at < ? ORDER BY expires_at LIMIT ?)",
  // A deleted service ends its live nonces in the same transaction (parameters: now, service, now).
  revokeForService: "UPDATE nonces SET revoked_at = ? WHERE service = ? AND revoked_at IS NULL AND expires_at > ?",
} as const;

// --- Audit chain (sqlite-chain.ts) ----------------------------------------------------------------------------

export const AUDIT = {
  head: "SELECT seq, hash FROM audit_head WHERE id = 1",
  setHead: "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1",
  // Positional parameters: binding 18 named ones costs a property lookup each, on every gateway request.
  insertEvent: `INSERT INTO audit_events (seq, id, time, type, actor, actor_id, agent, task, nonce_id,
        service, scopes, reason, request, source_ip, data, prev_hash, hash, issued_by)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT issued_by FROM nonces WHERE id = ?))`,
  // Changes when another connection commits to the file: the chain re-reads its head (see SqliteChain).
  dataVersion: "PRAGMA data_version",
} as const;

// --- Audit index (sqlite-audit-index.ts) ----------------------------------------------------------------------

const AUDIT_INDEX_COLUMNS = "seq, time, type, actor_id, agent, task, nonce_id, service, issued_by";

/** The catch-up, off the request's transaction. sqlite-audit-index.test.ts checks each one's query plan. */
export const AUDIT_INDEX = {
  tail: `SELECT coalesce((SELECT max(seq) FROM audit_events), 0)
    > coalesce((SELECT max(seq) FROM audit_index), 0)`,
  watermark: "SELECT coalesce(max(seq), 0) FROM audit_index",
  // The watermark is a bound parameter, read first in the same transaction: with a subquery on audit_index in
  // this INSERT's WHERE, SQLite materialises the SELECT into an ephemeral table first (it reads the table it
  // writes), and with the default temp_store that is a new temp file under /var/tmp on every catch-up.
  catchUp: `INSERT INTO audit_index (${AUDIT_INDEX_COLUMNS}) SELECT ${AUDIT_INDEX_COLUMNS} FROM audit_events
    WHERE seq > ? ORDER BY seq LIMIT ?`,
} as const;

/** Retention (`pruneAuditRows`): the same seqs leave both tables in one transaction. */
export const AUDIT_RETENTION = {
  lastPruned: "SELECT max(seq) FROM (SELECT seq FROM audit_events WHERE seq <= ? ORDER BY seq LIMIT ?)",
  pruneIndex: "DELETE FROM audit_index WHERE seq <= ?",
  pruneEvents: "DELETE FROM audit_events WHERE seq <= ?",
} as const;

// --- Signed audit checkpoints (the rest are kysely queries, checkpoints.ts) -------------------------------------

export const CHECKPOINTS = {
  // Retention: checkpoints below the new oldest event go with it.
  pruneBefore: "DELETE FROM audit_checkpoints WHERE seq < ?",
} as const;

// --- Services and their credentials ---------------------------------------------------------------------------

const SET_CREDENTIAL =
  "UPDATE services SET credential = ?, credential_fingerprint = ?, credential_updated_at = ? WHERE name = ?";

export const SERVICES = {
  serviceExists: "SELECT 1 FROM services WHERE name = ?",
  upsertService: `INSERT INTO services (name, template, upstream, auth, scopes, insecure_upstream, created_at, updated_at)
       VALUES (@name, @template, @upstream, @auth, @scopes, @insecure_upstream, @created_at, @updated_at)
       ON CONFLICT (name) DO UPDATE SET template = excluded.template, upstream = excluded.upstream,
         auth = excluded.auth, scopes = excluded.scopes, insecure_upstream = excluded.insecure_upstream,
         updated_at = excluded.updated_at`,
  deleteService: "DELETE FROM services WHERE name = ?",
  setCredential: SET_CREDENTIAL,
  // Compare-and-set: only if the credential is still the one the caller saw.
  setCredentialIfFingerprint: `${SET_CREDENTIAL} AND credential_fingerprint = ?`,
  // Master key rotation: every sealed credential, rewrapped and written back in one transaction.
  sealedCredentials: "SELECT name, credential FROM services WHERE credential IS NOT NULL ORDER BY name",
  rewrapCredential: "UPDATE services SET credential = ? WHERE name = ?",
} as const;

// --- API keys -------------------------------------------------------------------------------------------------

export const API_KEYS = {
  apiKeyByHash: "SELECT * FROM api_keys WHERE key_hash = ?",
  insertApiKey: `INSERT INTO api_keys (id, name, role, policy, key_hash, created_by, created_at, revoked_at)
       VALUES (@id, @name, @role, @policy, @key_hash, @created_by, @created_at, @revoked_at)`,
  revokeApiKey: "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
} as const;

// --- Approvals ------------------------------------------------------------------------------------------------

/**
 * Defined in approval-rows.ts and shared with PostgreSQL: written with `?` placeholders, which `pgParams`
 * numbers there. Listed here so every text the SQLite store runs is in this module (and prepared by its test).
 */
export const APPROVALS = {
  approvalById: APPROVAL_BY_ID,
  insertApproval: INSERT_APPROVAL,
  deliverApproval: DELIVER_APPROVAL,
} as const;

// --- Trust relationships (reads are kysely queries, trust.ts) -------------------------------------------------

export const TRUST = {
  trustExists: "SELECT 1 FROM trust_relationships WHERE name = ?",
  // Parameters: TRUST_COLUMNS in order (rows.ts); `name` and `created_at` stay as first written.
  upsertTrust: `INSERT INTO trust_relationships (${TRUST_COLUMNS.join(", ")}) VALUES (${TRUST_COLUMNS.map(() => "?").join(", ")})
    ON CONFLICT (name) DO UPDATE SET ${TRUST_COLUMNS.filter((c) => c !== "name" && c !== "created_at")
      .map((c) => `${c} = excluded.${c}`)
      .join(", ")}`,
  deleteTrust: "DELETE FROM trust_relationships WHERE name = ?",
} as const;

// --- Write transactions (sqlite-batch.ts) ---------------------------------------------------------------------

export const TX = {
  begin: "BEGIN IMMEDIATE",
  commit: "COMMIT",
  rollback: "ROLLBACK",
} as const;

// --- Schema: migrations bookkeeping and readiness probes ------------------------------------------------------

export const SCHEMA = {
  ping: "SELECT 1",
  migrationsTableExists: "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
  appliedMigrations: "SELECT version FROM schema_migrations",
  recordMigration: "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
  // A store closed before its migrations ran has no audit_index (AuditIndexer.finish).
  auditIndexExists: "SELECT 1 FROM sqlite_master WHERE name = 'audit_index'",
} as const;

// --- Pragmas (the argument to better-sqlite3's `db.pragma`, without the PRAGMA keyword) ---------------------

export const PRAGMAS = {
  // Opening (sqlite-open.ts): WAL for concurrent readers, a busy timeout so a second process waits instead of
  // failing, foreign keys on. The checkpoint worker's connection uses the same busy timeout.
  journalModeWal: "journal_mode = WAL",
  busyTimeout: "busy_timeout = 5000",
  foreignKeys: "foreign_keys = ON",
  // The checkpoint worker (sqlite-checkpointer.ts): passive checkpoints never block writers; the trim does not
  // wait for a writer (busy_timeout 0: SQLite then falls back to a passive checkpoint).
  checkpointPassive: "wal_checkpoint(PASSIVE)",
  checkpointTruncate: "wal_checkpoint(TRUNCATE)",
  noBusyTimeout: "busy_timeout = 0",
  // The server's connection while the worker runs: no automatic checkpoints, and never a truncate in a COMMIT.
  noAutocheckpoint: "wal_autocheckpoint = 0",
  noJournalSizeLimit: "journal_size_limit = -1",
} as const;

/** FULL unless NORMAL is asked for: anything else falls back to the durable mode. */
export function synchronousPragma(mode: SqliteSynchronous): string {
  return `synchronous = ${mode === "NORMAL" ? "NORMAL" : "FULL"}`;
}

/** Automatic checkpoints back on (the checkpoint worker's fallback). */
export function autocheckpointPragma(pages: number): string {
  return `wal_autocheckpoint = ${pages}`;
}

/** SQLite's own WAL trim back on (the checkpoint worker's fallback). */
export function journalSizeLimitPragma(bytes: number): string {
  return `journal_size_limit = ${bytes}`;
}

// --- Per-request statements, prepared once per connection -----------------------------------------------------

/** The statements on the per-request paths (sqlite.ts `S()`), prepared once after migrations created the tables. */
const REQUEST = {
  head: AUDIT.head,
  nonceForUse: NONCES.nonceForUse,
  countUse: NONCES.countUse,
  countRatedUse: NONCES.countRatedUse,
  nonceByKey: NONCES.nonceByKey,
  nonceStateByKey: NONCES.nonceStateByKey,
  nonceStateById: NONCES.nonceStateById,
  revokeDescendants: NONCES.revokeDescendants,
  nonceById: NONCES.nonceById,
  revokeOne: NONCES.revokeOne,
  insertNonce: NONCES.insertNonce,
  deleteExpired: NONCES.deleteExpired,
  apiKeyByHash: API_KEYS.apiKeyByHash,
  insertApiKey: API_KEYS.insertApiKey,
  serviceExists: SERVICES.serviceExists,
  upsertService: SERVICES.upsertService,
} as const;

export type Statements = Record<keyof typeof REQUEST, Statement>;

/** A row of `nonceForUse`, in its column order. */
export type NonceUseState = [
  rowid: number,
  id: string,
  uses: number,
  revokedAt: number | null,
  rateTat: number | null,
  rateTatFrac: number | null,
];

export function prepare(db: Database): Statements {
  const st = Object.fromEntries(Object.entries(REQUEST).map(([name, sql]) => [name, db.prepare(sql)])) as Statements;
  st.nonceForUse.raw(true);
  return st;
}
