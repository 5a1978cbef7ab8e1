import type pg from "pg";
import type { AuditDraft, AuditEvent } from "../core/types.js";
import { MIGRATIONS_TABLE_POSTGRES, pending } from "./migrations/index.js";
import { AUDIT_ROW_COLUMNS, type AuditInsertRow, linkDrafts } from "./rows.js";

/**
 * PostgreSQL transactions. Every transaction that writes audit events takes the chain head row lock FIRST
 * (`SELECT … FOR UPDATE`, sent with BEGIN in one round trip): one lock order for every writer means replicas
 * sharing the database serialise on the head and can never deadlock against each other.
 */
export type Append = (drafts: readonly AuditDraft[]) => Promise<AuditEvent[]>;

export const BEGIN_LOCKED = "BEGIN; SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE";

// One statement for any number of events: arrays unnested into rows; `issued_by` derived from the nonce.
const APPEND = `WITH e AS (
  INSERT INTO audit_events (seq, id, "time", "type", actor, actor_id, agent, task, nonce_id, service, scopes,
    reason, request, source_ip, data, prev_hash, hash, issued_by)
  SELECT u.*, (SELECT n.issued_by FROM nonces n WHERE n.id = u.nonce_id)
  FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
    $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[])
    AS u(seq, id, "time", "type", actor, actor_id, agent, task, nonce_id, service, scopes, reason, request,
      source_ip, data, prev_hash, hash)
)
UPDATE audit_head SET seq = $18, hash = $19 WHERE id = 1`;

function appendParams(rows: AuditInsertRow[]): unknown[] {
  const last = rows[rows.length - 1] as AuditInsertRow;
  return [...AUDIT_ROW_COLUMNS.map((col) => rows.map((r) => r[col])), last.seq, last.hash];
}

/**
 * PostgreSQL puts row contents in error details ("Key (token_key)=(…) already exists", "Failing row contains
 * …"). Callers may log errors, so those fields are dropped before an error leaves the store.
 */
export function scrub(e: unknown): unknown {
  if (e instanceof Error && "detail" in e) {
    const fields = e as unknown as Record<string, unknown>;
    fields.detail = undefined;
    fields.where = undefined;
  }
  return e;
}

/** Runs `fn` in a transaction on one pooled connection; rolls back (and discards a broken connection) on error. */
export async function inTransaction<T>(
  pool: pg.Pool,
  begin: string,
  fn: (c: pg.PoolClient, began: pg.QueryResult[]) => Promise<T>,
): Promise<T> {
  const c = await pool.connect();
  let out: T;
  try {
    const began = (await c.query(begin)) as unknown as pg.QueryResult | pg.QueryResult[];
    out = await fn(c, Array.isArray(began) ? began : [began]);
    await c.query("COMMIT");
  } catch (e) {
    try {
      await c.query("ROLLBACK");
      c.release();
    } catch (rollbackError) {
      c.release(rollbackError as Error);
    }
    throw scrub(e);
  }
  c.release();
  return out;
}

/** The chain head as read by BEGIN_LOCKED's second statement. */
export function headOf(began: pg.QueryResult[]): { seq: number; hash: string } {
  const row = began[1]?.rows[0] as { seq: number; hash: string } | undefined;
  if (!row) throw new Error("audit head is missing: run migrations");
  return { seq: Number(row.seq), hash: row.hash };
}

/** Inserts linked events (one statement for any number) and moves the head to the last one. */
export async function insertEvents(c: pg.PoolClient, rows: AuditInsertRow[]): Promise<void> {
  await c.query({ name: "an_audit_append", text: APPEND, values: appendParams(rows) });
}

/**
 * A transaction holding the audit head lock, with `append` linking drafts onto the chain. `onCommit` receives
 * the appended events once COMMIT succeeded.
 */
export async function audited<T>(
  pool: pg.Pool,
  fn: (c: pg.PoolClient, append: Append) => Promise<T>,
  onCommit?: (events: AuditEvent[]) => void,
): Promise<T> {
  const written: AuditEvent[] = [];
  const out = await inTransaction(pool, BEGIN_LOCKED, async (c, began) => {
    let head = headOf(began);
    const append: Append = async (drafts) => {
      if (drafts.length === 0) return [];
      const { events, rows } = linkDrafts(drafts, head);
      await insertEvents(c, rows);
      const last = events[events.length - 1] as AuditEvent;
      head = { seq: last.seq, hash: last.hash };
      written.push(...events);
      return events;
    };
    return fn(c, append);
  });
  if (onCommit && written.length > 0) onCommit(written);
  return out;
}

/**
 * Applies pending migrations under a transaction-scoped advisory lock keyed by schema, so replicas starting at
 * once take turns and the later ones find nothing to do.
 */
export async function migratePostgres(pool: pg.Pool, schema: string | undefined, now: number): Promise<void> {
  await inTransaction(pool, "BEGIN", async (c) => {
    await c.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`agent-nonce/migrate/${schema ?? ""}`]);
    // The identifier was validated against /^[a-z_][a-z0-9_]*$/ by the caller; identifiers cannot be parameters.
    if (schema !== undefined) await c.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await c.query(MIGRATIONS_TABLE_POSTGRES);
    const applied = await c.query<{ version: number }>("SELECT version FROM schema_migrations");
    for (const m of pending(applied.rows.map((r) => r.version))) {
      for (const stmt of m.postgres) await c.query(stmt);
      await c.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)", [
        m.version,
        m.name,
        now,
      ]);
    }
  });
}
