import type { Migration } from "./index.js";

/**
 * Audit write cost: every index is one more b-tree insert (and dirty page) per event, on the gateway's hot path.
 * listAudit filters with equality on one or more columns and pages in seq order (LIMIT n+1), so an index pays
 * only if it is `(column, seq)` (order comes from the index; combining columns would lose that order for all
 * but the leading one) and the column is selective enough that a seq-order scan would read far more rows.
 * Kept, and why (EXPLAIN QUERY PLAN on SQLite in the commit that added this migration):
 * - audit_nonce_idx (nonce_id, seq): a nonce's history (`?nonce=`); thousands of distinct values.
 * - audit_task_idx (task, seq): GET /v1/tasks/{task}, the task report; many distinct values.
 * - audit_agent_idx (agent, seq): `?agent=`; agent names are free-form, often one per run.
 * - audit_type_idx (type, seq): the rare types (credential.set, nonce.issue_denied, key.*) are the ones
 *   asked for; a seq scan would read the whole log to find them. Common types walk the index in seq order.
 * - audit_issued_by_idx, audit_actor_idx: issuer scoping is `issued_by = k OR actor_id = k`, answered by a
 *   MULTI-INDEX OR only when both columns are indexed; without either it is a full scan per issuer page.
 * Dropped:
 * - audit_service_idx (service, seq): a handful of configured services, each a large share of the log, so
 *   `?service=` alone is a seq-order scan that stops after n+1 matches; with `type`, `task`, `agent` or
 *   `nonce` the other index is the better one anyway (the documented `?service=…&type=credential.set`).
 * - audit_time_idx (time): SQLite never chose it for `since` or `until` alone (ORDER BY seq LIMIT wins: a seq
 *   scan), and for a window (export: since AND until) it read the whole window and sorted it by seq for EVERY
 *   page, quadratic in the window size. Time grows with seq, so a seq-order scan with the time filter reaches
 *   the window once and then pages from the cursor (`seq > ?`); only the first page of a window far back in
 *   a long log reads the events before it.
 * On SQLite the kept six live on audit_index since migration 005 (same columns, same reasons), off the hot path.
 */
export const auditIndexes: Migration = {
  version: 4,
  name: "audit_indexes",
  sqlite: ["DROP INDEX IF EXISTS audit_service_idx", "DROP INDEX IF EXISTS audit_time_idx"],
  postgres: ["DROP INDEX IF EXISTS audit_service_idx", "DROP INDEX IF EXISTS audit_time_idx"],
};
