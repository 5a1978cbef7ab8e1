import { isUsable } from "../core/nonces.js";
import type { AuditDraft, NonceStatus } from "../core/types.js";
import { stateFromRow } from "./rows.js";
import type { NonceStateRow } from "./schema.js";

/**
 * Delegation lineage in the status check itself. A delegated nonce is alive only while every ancestor is: the
 * consume and Store.getNonceStatus read the chain (at most MAX_DELEGATION_DEPTH rows by primary key) in the same
 * transaction or statement that decides, so revoking, exhausting or expiring any ancestor ends every descendant
 * at once on every replica, with no fan-out write to race against: a child delegated while its parent was being
 * revoked, or a parent's last use committed a moment before the child's request, are both seen. A child whose
 * ancestor is dead is answered `revoked` (ended by its lineage); a missing ancestor (deleted after expiry) counts
 * as dead, failing closed.
 */

/** More than the deepest chain ever issued: a loop in corrupted data cannot spin forever. */
const MAX_WALK = 16;

/** Walks the chain from `parentId` with a synchronous by-id reader (SQLite, inside the deciding transaction). */
export function ancestorsAlive(
  readById: (id: string) => NonceStateRow | undefined,
  parentId: string | null | undefined,
  now: number,
): boolean {
  let id = parentId ?? null;
  for (let i = 0; id !== null; i++) {
    if (i >= MAX_WALK) return false;
    const row = readById(id);
    if (!row || !isUsable(stateFromRow(row), now)) return false;
    id = row.parent_id ?? null;
  }
  return true;
}

/** A nonce's own status combined with its lineage: an active child of a dead ancestor is revoked. */
export function lineageStatus(own: NonceStatus, ancestorsOk: boolean): NonceStatus {
  return own === "active" && !ancestorsOk ? "revoked" : own;
}

/**
 * PostgreSQL: the states of the whole chain above `$1` (a parent id) in one recursive read. A row with a null
 * `found` is an ancestor that no longer exists.
 */
export const ANCESTORS_PG = {
  name: "an_nonce_ancestors",
  text: `WITH RECURSIVE a(id, lvl) AS (
      SELECT $1::text, 1
      UNION ALL SELECT n.parent_id, a.lvl + 1 FROM nonces n JOIN a ON n.id = a.id
        WHERE n.parent_id IS NOT NULL AND a.lvl < ${MAX_WALK})
    SELECT a.id AS ancestor_id, n.id AS found, n.revoked_at, n.expires_at, n.uses, n.max_uses, n.parent_id
      FROM a LEFT JOIN nonces n ON n.id = a.id`,
} as const;

export interface AncestorRow extends NonceStateRow {
  ancestor_id: string;
  found: string | null;
}

/** Decides on the rows of ANCESTORS_PG; `override` gives rows already changed in the same batch (by id). */
export function ancestorRowsAlive(
  rows: readonly AncestorRow[],
  now: number,
  override?: (id: string) => NonceStateRow | undefined,
): boolean {
  if (rows.length === 0 || rows.length >= MAX_WALK) return false;
  for (const r of rows) {
    if (r.found === null) return false;
    const state = override?.(r.ancestor_id) ?? r;
    if (!isUsable(stateFromRow(state), now)) return false;
  }
  return true;
}

/** The `nonce.revoked` event of a descendant revoked with its ancestor: same shape, says which ancestor. */
export function cascadeDraft(d: AuditDraft, ancestorId: string): AuditDraft {
  return { ...d, reason: "ancestor_revoked", data: { ...d.data, ancestor_id: ancestorId } };
}

/** PostgreSQL: revokes every live descendant of `$1` at `$2` (the SQLite twin is NONCES.revokeDescendants in sqlite-sql.ts). */
export const REVOKE_DESCENDANTS_PG = `WITH RECURSIVE d(id) AS (
    SELECT id FROM nonces WHERE parent_id = $1
    UNION SELECT n.id FROM nonces n JOIN d ON n.parent_id = d.id)
  UPDATE nonces SET revoked_at = $2 WHERE id IN (SELECT id FROM d) AND revoked_at IS NULL RETURNING *`;
