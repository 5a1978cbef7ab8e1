import { type CompiledQuery, Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { AppError } from "../core/errors.js";
import { nonceStatus } from "../core/nonces.js";
import type { AuditDraft, AuditEvent, NonceRecord } from "../core/types.js";
import { postgresApprovals } from "./approvals-postgres.js";
import { AuditListeners } from "./audit-listeners.js";
import { checkpointMethods } from "./checkpoints.js";
import {
  ANCESTORS_PG,
  type AncestorRow,
  ancestorRowsAlive,
  cascadeDraft,
  lineageStatus,
  REVOKE_DESCENDANTS_PG,
} from "./lineage.js";
import { pending } from "./migrations/index.js";
import { serviceAuditType } from "./outcomes.js";
import { pgGroupCommit } from "./postgres-group.js";
import { Q } from "./postgres-sql.js";
import { type Append, audited as auditedTx, inTransaction, migratePostgres, scrub } from "./postgres-tx.js";
import { listAuditQuery, listNoncesQuery, revokeNoncesQuery, scanAuditQuery } from "./queries.js";
import {
  apiKeyFromRow,
  apiKeyToRow,
  auditCursor,
  eventFromRow,
  nonceCursor,
  nonceFromRow,
  pageOf,
  serviceFromRow,
  serviceToRow,
  stateFromRow,
} from "./rows.js";
import type { ApiKeyRow, AuditRow, Database, NonceRow, NonceStateRow, ServiceRow } from "./schema.js";
import type { ConsumeResult, Store } from "./store.js";
import { postgresTrustMethods } from "./trust.js";

const INT8 = 20;

/**
 * PostgreSQL dialect (pg Pool). int8 columns are parsed as JS numbers (ms timestamps and counters, far below
 * 2^53); bytea comes back as Buffer. `schema` puts every pooled connection's search_path on that schema (tests
 * isolate themselves that way). Audited writes go through `audited()` (chain head locked first).
 */
export async function createPostgresStore(opts: {
  connectionString: string;
  schema?: string;
  poolSize?: number;
}): Promise<Store> {
  const schema = opts.schema;
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new AppError("invalid_request", "invalid PostgreSQL schema name");
  }
  // A transaction left idle (a frozen process) would hold the audit head lock for every replica: bound it.
  const settings = ["-c idle_in_transaction_session_timeout=30000"];
  if (schema !== undefined) settings.push(`-c search_path=${schema}`);
  const pool = new pg.Pool({
    connectionString: opts.connectionString,
    max: opts.poolSize ?? 10,
    // Fail closed quickly when the database is unreachable instead of queueing forever.
    connectionTimeoutMillis: 5000,
    options: settings.join(" "),
    types: {
      getTypeParser: ((oid: number, format?: "text" | "binary") =>
        oid === INT8 && format !== "binary"
          ? Number
          : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // An idle connection dying (server restart) must not crash the process; the pool replaces it.
  pool.on("error", () => {});
  const k = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  let closed = false;
  const run = async <R>(c: pg.PoolClient, q: CompiledQuery<R>): Promise<R[]> =>
    (await c.query(q.sql, q.parameters as unknown[])).rows as R[];
  const listeners = new AuditListeners();
  // Every audited transaction reports its events to onAuditCommitted listeners after COMMIT.
  const audited = <T>(p: pg.Pool, fn: (c: pg.PoolClient, append: Append) => Promise<T>): Promise<T> =>
    auditedTx(p, fn, (events) => listeners.emit(events));
  // The per-request writes (consume, issue, append) are group-committed: see postgres-group.ts.
  const group = pgGroupCommit(pool, (events) => listeners.emit(events));

  return {
    dialect: "postgres",
    ...postgresApprovals(pool, audited),

    async migrate() {
      await migratePostgres(pool, schema, Date.now());
    },

    async close() {
      if (closed) return;
      closed = true;
      await group.drain();
      await pool.end();
    },

    async ping() {
      await pool.query("SELECT 1");
    },

    async pendingMigrations() {
      // to_regclass: NULL (not an error) before the first migration created the table in this search_path.
      const t = await pool.query<{ t: string | null }>("SELECT to_regclass('schema_migrations')::text AS t");
      if (!t.rows[0]?.t) return pending([]).map((m) => m.version);
      const r = await pool.query<{ version: number }>("SELECT version FROM schema_migrations");
      return pending(r.rows.map((x) => x.version)).map((m) => m.version);
    },

    async putService(s, audit) {
      const r = serviceToRow(s, "postgres");
      return audited(pool, async (c, append) => {
        const existing = await c.query("SELECT 1 FROM services WHERE name = $1", [s.name]);
        await c.query(
          `INSERT INTO services (name, template, upstream, auth, scopes, insecure_upstream, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (name) DO UPDATE SET template = excluded.template, upstream = excluded.upstream,
             auth = excluded.auth, scopes = excluded.scopes, insecure_upstream = excluded.insecure_upstream,
             updated_at = excluded.updated_at`,
          [r.name, r.template, r.upstream, r.auth, r.scopes, r.insecure_upstream, r.created_at, r.updated_at],
        );
        const created = existing.rowCount === 0;
        await append([{ ...audit, type: serviceAuditType(audit.type, created) }]);
        return created;
      });
    },

    async getService(name) {
      const r = await pool.query<ServiceRow>({ ...Q.serviceByName, values: [name] });
      return r.rows[0] ? serviceFromRow(r.rows[0]) : undefined;
    },

    async listServices() {
      const rows = await k.selectFrom("services").selectAll().orderBy("name").execute();
      return rows.map((r) => serviceFromRow(r as ServiceRow));
    },

    async deleteService(name, now, audit) {
      return audited(pool, async (c, append) => {
        const d = await c.query("DELETE FROM services WHERE name = $1", [name]);
        if (d.rowCount === 0) return false;
        await c.query(
          "UPDATE nonces SET revoked_at = $1 WHERE service = $2 AND revoked_at IS NULL AND expires_at > $1",
          [now, name],
        );
        await append([audit]);
        return true;
      });
    },

    async setCredential(name, sealed, fingerprint, now, audit, expectedFingerprint) {
      return audited(pool, async (c, append) => {
        const set =
          "UPDATE services SET credential = $1, credential_fingerprint = $2, credential_updated_at = $3 WHERE name = $4";
        const u =
          expectedFingerprint === undefined
            ? await c.query(set, [sealed, fingerprint, now, name])
            : await c.query(`${set} AND credential_fingerprint = $5`, [
                sealed,
                fingerprint,
                now,
                name,
                expectedFingerprint,
              ]);
        if (u.rowCount === 0) return false;
        await append([audit]);
        return true;
      });
    },

    async rewrapCredentials(rewrap) {
      return inTransaction(pool, "BEGIN", async (c) => {
        const rows = await c.query<{ name: string; credential: Buffer }>(
          "SELECT name, credential FROM services WHERE credential IS NOT NULL ORDER BY name FOR UPDATE",
        );
        let n = 0;
        for (const r of rows.rows) {
          const next = rewrap(r.name, r.credential);
          if (next.equals(r.credential)) continue;
          await c.query("UPDATE services SET credential = $1 WHERE name = $2", [next, r.name]);
          n += 1;
        }
        return n;
      });
    },

    async insertApiKey(key, audit) {
      const r = apiKeyToRow(key);
      const values = [r.id, r.name, r.role, r.policy, r.key_hash, r.created_by, r.created_at, r.revoked_at];
      const sql = `INSERT INTO api_keys (id, name, role, policy, key_hash, created_by, created_at, revoked_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`;
      if (audit === null) {
        await pool.query(sql, values).catch((e: unknown) => {
          throw scrub(e);
        });
        return;
      }
      await audited(pool, async (c, append) => {
        await c.query(sql, values);
        await append([audit]);
      });
    },

    async getApiKeyByHash(hash) {
      const r = await pool.query<ApiKeyRow>({ ...Q.apiKeyByHash, values: [hash] });
      return r.rows[0] ? apiKeyFromRow(r.rows[0]) : undefined;
    },

    async getApiKey(id) {
      const row = await k.selectFrom("api_keys").selectAll().where("id", "=", id).executeTakeFirst();
      return row ? apiKeyFromRow(row) : undefined;
    },

    async listApiKeys() {
      return (await k.selectFrom("api_keys").selectAll().orderBy("id").execute()).map(apiKeyFromRow);
    },

    async countApiKeys() {
      const r = await pool.query<{ n: number }>("SELECT count(*) AS n FROM api_keys");
      return Number(r.rows[0]?.n ?? 0);
    },

    async revokeApiKey(id, now, audit) {
      return audited(pool, async (c, append) => {
        const u = await c.query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL", [now, id]);
        if (u.rowCount === 0) return false;
        await append([audit]);
        return true;
      });
    },

    async insertNonce(n, audit) {
      await group.run({ kind: "insert", nonce: n, audit });
    },

    async getNonce(id) {
      const r = await pool.query<NonceRow>({ ...Q.nonceById, values: [id] });
      return r.rows[0] ? nonceFromRow(r.rows[0]) : undefined;
    },

    async getNonceByKey(key) {
      const r = await pool.query<NonceRow>({ ...Q.nonceByKey, values: [key] });
      return r.rows[0] ? nonceFromRow(r.rows[0]) : undefined;
    },

    async getNonceStatus(key, now) {
      const r = await pool.query<NonceStateRow>({ ...Q.nonceStateByKey, values: [key] });
      const row = r.rows[0];
      if (!row) return undefined;
      const own = nonceStatus(stateFromRow(row), now);
      if (!row.parent_id || own !== "active") return own;
      const chain = await pool.query<AncestorRow>({ ...ANCESTORS_PG, values: [row.parent_id] });
      return lineageStatus(own, ancestorRowsAlive(chain.rows, now));
    },

    async listNonces(filter, page, now) {
      const rows = await listNoncesQuery(k, filter, page, now).execute();
      return pageOf(rows as NonceRow[], page.limit, nonceFromRow, (r) => nonceCursor.encode(r.id));
    },

    async consumeNonce(key, now, onOk, onReject) {
      return group.run<ConsumeResult>({ kind: "consume", key, now, onOk, onReject });
    },

    async revokeNonce(id, now, audit) {
      return audited(pool, async (c, append) => {
        const u = await c.query<NonceRow>(
          "UPDATE nonces SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL RETURNING *",
          [now, id],
        );
        if (u.rows[0]) {
          const n = nonceFromRow(u.rows[0]);
          await append([audit(n)]);
          await revokeDescendants(c, id, now, audit, append);
          return n;
        }
        const r = await c.query<NonceRow>({ ...Q.nonceById, values: [id] });
        return r.rows[0] ? nonceFromRow(r.rows[0]) : undefined;
      });
    },

    async revokeNonces(filter, now, audit) {
      const q = revokeNoncesQuery(k, filter, now).compile();
      return audited(pool, async (c, append) => {
        const rows = (await run(c, q)).map((r) => nonceFromRow(r as NonceRow));
        rows.sort((a, b) => (a.id < b.id ? -1 : 1));
        await append(rows.map(audit));
        for (const n of rows) await revokeDescendants(c, n.id, now, audit, append);
        return rows.length;
      });
    },

    async deleteExpiredNonces(before, limit) {
      const r = await pool.query(
        "DELETE FROM nonces WHERE id IN (SELECT id FROM nonces WHERE expires_at < $1 ORDER BY expires_at LIMIT $2)",
        [before, limit],
      );
      return r.rowCount ?? 0;
    },

    async appendAudit(drafts) {
      if (drafts.length === 0) return [];
      return group.run<AuditEvent[]>({ kind: "append", drafts });
    },

    async listAudit(filter, page) {
      const rows = await listAuditQuery(k, filter, page).execute();
      return pageOf(rows as AuditRow[], page.limit, eventFromRow, (r) => auditCursor.encode(r.seq));
    },

    async scanAudit(afterSeq, limit) {
      const rows = await scanAuditQuery(k, afterSeq, limit).execute();
      return rows.map((r) => eventFromRow(r as AuditRow));
    },

    async auditHead() {
      const r = await pool.query<{ seq: number; hash: string }>("SELECT seq, hash FROM audit_head WHERE id = 1");
      const h = r.rows[0];
      if (!h) throw new Error("audit head is missing: run migrations");
      return { seq: h.seq, hash: h.hash };
    },

    onAuditCommitted(listener) {
      return listeners.add(listener);
    },

    ...checkpointMethods(k),
    ...postgresTrustMethods(k, pool, audited),

    async pruneAudit(throughSeq, limit) {
      return inTransaction(pool, "BEGIN", async (c) => {
        const d = await c.query(
          "DELETE FROM audit_events WHERE seq IN (SELECT seq FROM audit_events WHERE seq <= $1 ORDER BY seq LIMIT $2)",
          [throughSeq, limit],
        );
        await c.query("DELETE FROM audit_checkpoints WHERE seq < $1", [throughSeq]);
        return d.rowCount ?? 0;
      });
    },
  };
}

/** Revokes every live descendant of `id` in the caller's transaction, one `nonce.revoked` event each. */
async function revokeDescendants(
  c: pg.PoolClient,
  id: string,
  now: number,
  audit: (n: NonceRecord) => AuditDraft,
  append: (drafts: AuditDraft[]) => Promise<unknown>,
): Promise<void> {
  const r = await c.query<NonceRow>(REVOKE_DESCENDANTS_PG, [id, now]);
  const rows = r.rows.map(nonceFromRow).sort((a, b) => (a.id < b.id ? -1 : 1));
  if (rows.length > 0) await append(rows.map((n) => cascadeDraft(audit(n), id)));
}
