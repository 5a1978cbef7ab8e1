import type { Database, Statement } from "better-sqlite3";

/** Statements on the per-request paths, prepared once per connection (after migrations created the tables). */
const SQL = {
  head: "SELECT seq, hash FROM audit_head WHERE id = 1",
  // The consume reads the row, decides in JS (nonceStatus) and bumps the counter by rowid, all inside the batch's
  // IMMEDIATE transaction, so no other writer comes in between. One read serves the accept and the reject path,
  // and there is no RETURNING, which SQLite buffers in an ephemeral table per statement.
  nonceForUse: "SELECT rowid AS row_id, * FROM nonces WHERE token_key = ?",
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
  apiKeyByHash: "SELECT * FROM api_keys WHERE key_hash = ?",
  insertApiKey: `INSERT INTO api_keys (id, name, role, policy, key_hash, created_by, created_at, revoked_at)
       VALUES (@id, @name, @role, @policy, @key_hash, @created_by, @created_at, @revoked_at)`,
  serviceExists: "SELECT 1 FROM services WHERE name = ?",
  upsertService: `INSERT INTO services (name, template, upstream, auth, scopes, insecure_upstream, created_at, updated_at)
       VALUES (@name, @template, @upstream, @auth, @scopes, @insecure_upstream, @created_at, @updated_at)
       ON CONFLICT (name) DO UPDATE SET template = excluded.template, upstream = excluded.upstream,
         auth = excluded.auth, scopes = excluded.scopes, insecure_upstream = excluded.insecure_upstream,
         updated_at = excluded.updated_at`,
} as const;

export type Statements = Record<keyof typeof SQL, Statement>;

export function prepare(db: Database): Statements {
  return Object.fromEntries(Object.entries(SQL).map(([name, sql]) => [name, db.prepare(sql)])) as Statements;
}
