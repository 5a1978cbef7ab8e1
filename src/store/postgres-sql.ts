import type { NonceRecord } from "../core/types.js";
import { usableNonceSql } from "./queries.js";
import { AUDIT_ROW_COLUMNS, type AuditInsertRow, nonceToRow } from "./rows.js";
import type { NonceRow } from "./schema.js";

/** PostgreSQL statement texts and their parameter builders for the hot path. */

// Named statements: each pooled connection parses and plans them once.
export const Q = {
  consume: {
    name: "an_consume",
    // A nonce with a rate is left to the locked read below: its rate is decided in Node (store/outcomes.ts).
    text: `UPDATE nonces SET uses = uses + 1 WHERE token_key = $1 AND ${usableNonceSql("$2")} AND rate IS NULL
      RETURNING *`,
  },
  nonceForUse: { name: "an_nonce_for_use", text: "SELECT * FROM nonces WHERE token_key = $1 FOR UPDATE" },
  countRatedUse: {
    name: "an_count_rated_use",
    text: "UPDATE nonces SET uses = uses + 1, rate_tat = $2, rate_tat_frac = $3 WHERE id = $1",
  },
  nonceByKey: { name: "an_nonce_by_key", text: "SELECT * FROM nonces WHERE token_key = $1" },
  nonceStateByKey: {
    name: "an_nonce_state_by_key",
    text: "SELECT revoked_at, expires_at, uses, max_uses, parent_id FROM nonces WHERE token_key = $1",
  },
  nonceById: { name: "an_nonce_by_id", text: "SELECT * FROM nonces WHERE id = $1" },
  apiKeyByHash: { name: "an_key_by_hash", text: "SELECT * FROM api_keys WHERE key_hash = $1" },
  serviceByName: { name: "an_service_by_name", text: "SELECT * FROM services WHERE name = $1" },
  insertNonce: {
    name: "an_insert_nonce",
    text: `INSERT INTO nonces (id, token_key, service, scopes, routes, agent, task, max_uses, uses, constraints,
      metadata, issued_by, created_at, expires_at, revoked_at, rate, credential_params, parent_id, depth, canary)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`,
  },
} as const;

const NONCE_COLUMNS = [
  "id",
  "token_key",
  "service",
  "scopes",
  "routes",
  "agent",
  "task",
  "max_uses",
  "uses",
  "constraints",
  "metadata",
  "issued_by",
  "created_at",
  "expires_at",
  "revoked_at",
  "rate",
  "credential_params",
  "parent_id",
  "depth",
  "canary",
] as const;

export function nonceValues(n: NonceRecord): unknown[] {
  const r = nonceToRow(n);
  return NONCE_COLUMNS.map((col) => r[col]);
}

/**
 * Every write of a group-committed batch in ONE statement (data-modifying CTEs; each part may be empty):
 * new nonces, absolute `uses` and rate state for consumed ones (decided in Node under the row locks taken by
 * lockAndRead), the audit rows, and the head moved to the last one. A CTE does not see the rows another CTE of
 * the same statement inserts, so `issued_by` is passed for nonces the batch knows, and looked up only for the others.
 */
export const WRITE_BATCH = {
  name: "an_write_batch",
  text: `WITH ins AS (
  INSERT INTO nonces (${NONCE_COLUMNS.join(", ")}, rate_tat, rate_tat_frac)
  SELECT * FROM unnest($1::text[], $2::bytea[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
    $8::int[], $9::int[], $10::text[], $11::text[], $12::text[], $13::bigint[], $14::bigint[], $15::bigint[],
    $16::text[], $17::text[], $18::text[], $19::int[], $20::int[], $21::bigint[], $22::int[])
), upd AS (
  UPDATE nonces n SET uses = v.uses, rate_tat = v.rate_tat, rate_tat_frac = v.rate_tat_frac
  FROM unnest($23::text[], $24::int[], $25::bigint[], $26::int[]) AS v(id, uses, rate_tat, rate_tat_frac)
  WHERE n.id = v.id
), ev AS (
  INSERT INTO audit_events (seq, id, "time", "type", actor, actor_id, agent, task, nonce_id, service, scopes,
    reason, request, source_ip, data, prev_hash, hash, issued_by)
  SELECT u.seq, u.id, u."time", u."type", u.actor, u.actor_id, u.agent, u.task, u.nonce_id, u.service, u.scopes,
    u.reason, u.request, u.source_ip, u.data, u.prev_hash, u.hash,
    COALESCE(u.issued_by, (SELECT n.issued_by FROM nonces n WHERE n.id = u.nonce_id))
  FROM unnest($27::bigint[], $28::text[], $29::bigint[], $30::text[], $31::text[], $32::text[], $33::text[],
    $34::text[], $35::text[], $36::text[], $37::text[], $38::text[], $39::text[], $40::text[], $41::text[],
    $42::text[], $43::text[], $44::text[])
    AS u(seq, id, "time", "type", actor, actor_id, agent, task, nonce_id, service, scopes, reason, request,
      source_ip, data, prev_hash, hash, issued_by)
)
UPDATE audit_head SET seq = $45, hash = $46 WHERE id = 1`,
} as const;

export function writeBatchParams(
  inserts: readonly NonceRow[],
  updates: readonly NonceRow[],
  rows: readonly AuditInsertRow[],
  issuedBy: ReadonlyMap<string, string>,
  head: { seq: number; hash: string },
): unknown[] {
  return [
    ...NONCE_COLUMNS.map((col) => inserts.map((r) => r[col])),
    // A nonce issued and consumed in the same batch is inserted with the rate state that consume moved it to.
    inserts.map((r) => r.rate_tat ?? null),
    inserts.map((r) => r.rate_tat_frac ?? 0),
    updates.map((r) => r.id),
    updates.map((r) => r.uses),
    updates.map((r) => r.rate_tat ?? null),
    updates.map((r) => r.rate_tat_frac ?? 0),
    ...AUDIT_ROW_COLUMNS.map((col) => rows.map((r) => r[col])),
    rows.map((r) => (r.nonce_id === null ? null : (issuedBy.get(r.nonce_id) ?? null))),
    head.seq,
    head.hash,
  ];
}

/**
 * BEGIN, the head lock (always first: one lock order for every writer and replica), and the rows the batch's
 * consumes will decide on, locked, in ONE round trip. A multi-statement simple query cannot take parameters:
 * the only values inlined are token keys, as hex from our own Buffers (no quoting to get wrong).
 */
export function lockAndRead(keys: readonly string[]): string {
  const begin = "BEGIN; SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE";
  if (keys.length === 0) return begin;
  for (const h of keys) if (!/^[0-9a-f]*$/.test(h)) throw new Error("token key is not hex");
  const list = keys.map((h) => `decode('${h}', 'hex')`).join(", ");
  return `${begin}; SELECT * FROM nonces WHERE token_key IN (${list}) ORDER BY id FOR UPDATE`;
}
