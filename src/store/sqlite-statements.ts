import type BetterSqlite3 from "better-sqlite3";

/** Statements on the per-request paths, prepared once per connection (after migrations created the tables). */
export function prepare(db: BetterSqlite3.Database) {
  return {
    head: db.prepare("SELECT seq, hash FROM audit_head WHERE id = 1"),
    setHead: db.prepare("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1"),
    insertEvent: db.prepare(
      `INSERT INTO audit_events (seq, id, time, type, actor, actor_id, agent, task, nonce_id, service, scopes,
        reason, request, source_ip, data, prev_hash, hash, issued_by)
       VALUES (@seq, @id, @time, @type, @actor, @actor_id, @agent, @task, @nonce_id, @service, @scopes,
        @reason, @request, @source_ip, @data, @prev_hash, @hash, (SELECT issued_by FROM nonces WHERE id = @nonce_id))`,
    ),
    consume: db.prepare(
      `UPDATE nonces SET uses = uses + 1
       WHERE token_hash = ? AND revoked_at IS NULL AND expires_at > ? AND (max_uses IS NULL OR uses < max_uses)
       RETURNING *`,
    ),
    nonceByHash: db.prepare("SELECT * FROM nonces WHERE token_hash = ?"),
    nonceById: db.prepare("SELECT * FROM nonces WHERE id = ?"),
    revokeOne: db.prepare("UPDATE nonces SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL RETURNING *"),
    insertNonce: db.prepare(
      `INSERT INTO nonces (id, token_hash, service, scopes, routes, agent, task, max_uses, uses, constraints,
        metadata, issued_by, created_at, expires_at, revoked_at)
       VALUES (@id, @token_hash, @service, @scopes, @routes, @agent, @task, @max_uses, @uses, @constraints,
        @metadata, @issued_by, @created_at, @expires_at, @revoked_at)`,
    ),
    apiKeyByHash: db.prepare("SELECT * FROM api_keys WHERE key_hash = ?"),
    insertApiKey: db.prepare(
      `INSERT INTO api_keys (id, name, role, policy, key_hash, created_by, created_at, revoked_at)
       VALUES (@id, @name, @role, @policy, @key_hash, @created_by, @created_at, @revoked_at)`,
    ),
    serviceExists: db.prepare("SELECT 1 FROM services WHERE name = ?"),
    upsertService: db.prepare(
      `INSERT INTO services (name, template, upstream, auth, scopes, insecure_upstream, created_at, updated_at)
       VALUES (@name, @template, @upstream, @auth, @scopes, @insecure_upstream, @created_at, @updated_at)
       ON CONFLICT (name) DO UPDATE SET template = excluded.template, upstream = excluded.upstream,
         auth = excluded.auth, scopes = excluded.scopes, insecure_upstream = excluded.insecure_upstream,
         updated_at = excluded.updated_at`,
    ),
  };
}
