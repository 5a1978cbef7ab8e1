import type { Migration } from "./index.js";

/**
 * SQLite: the audit query index moves out of the request's transaction. Every secondary index on audit_events
 * was one more b-tree (and WAL frame) written by each gateway commit: 102 µs per commit with the six of
 * migration 004 against 48 µs without. `audit_index` holds exactly the filterable columns of each event, keyed
 * by its seq, with those same six `(column, seq)` indexes (004 says why each exists), and is filled from
 * audit_events in batches, in its own transactions (sqlite-audit-index.ts): on a timer in the server, and
 * before every filtered read, which therefore sees every committed event. It is derived data: `max(seq)` of
 * audit_index is how far it got (seq only grows), so a crash between an append and the catch-up loses nothing.
 * The UNIQUE on audit_events.id is inline and stays (dropping it needs a table rebuild).
 * PostgreSQL keeps its indexes on audit_events (not measured for this change; several replicas would also need
 * to agree on who runs the catch-up).
 */
export const auditIndex: Migration = {
  version: 5,
  name: "audit_index",
  sqlite: [
    `CREATE TABLE audit_index (
      seq INTEGER PRIMARY KEY,
      time INTEGER NOT NULL,
      type TEXT NOT NULL,
      actor_id TEXT,
      agent TEXT,
      task TEXT,
      nonce_id TEXT,
      service TEXT,
      issued_by TEXT
    ) STRICT`,
    `INSERT INTO audit_index (seq, time, type, actor_id, agent, task, nonce_id, service, issued_by)
      SELECT seq, time, type, actor_id, agent, task, nonce_id, service, issued_by FROM audit_events ORDER BY seq`,
    "CREATE INDEX audit_index_nonce_idx ON audit_index (nonce_id, seq)",
    "CREATE INDEX audit_index_agent_idx ON audit_index (agent, seq)",
    "CREATE INDEX audit_index_task_idx ON audit_index (task, seq)",
    "CREATE INDEX audit_index_type_idx ON audit_index (type, seq)",
    "CREATE INDEX audit_index_issued_by_idx ON audit_index (issued_by, seq)",
    "CREATE INDEX audit_index_actor_idx ON audit_index (actor_id, seq)",
    "DROP INDEX IF EXISTS audit_nonce_idx",
    "DROP INDEX IF EXISTS audit_agent_idx",
    "DROP INDEX IF EXISTS audit_task_idx",
    "DROP INDEX IF EXISTS audit_type_idx",
    "DROP INDEX IF EXISTS audit_issued_by_idx",
    "DROP INDEX IF EXISTS audit_actor_idx",
  ],
  postgres: [],
};
