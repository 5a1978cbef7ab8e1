import type pg from "pg";
import type { NonceRecord } from "../core/types.js";
import {
  APPROVAL_BY_ID,
  approvalFromRow,
  approvalPage,
  approvalValues,
  DELIVER_APPROVAL,
  decideStatement,
  INSERT_APPROVAL,
  listApprovalsStatement,
  pgParams,
} from "./approval-rows.js";
import { nonceValues, Q } from "./postgres-sql.js";
import type { Append } from "./postgres-tx.js";
import type { ApprovalRow } from "./schema.js";
import type { Store } from "./store.js";

type ApprovalMethods = Pick<
  Store,
  "insertApproval" | "getApproval" | "listApprovals" | "decideApproval" | "deliverApproval"
>;

/** PostgreSQL approvals: each write is one transaction holding the audit head lock (postgres-tx.ts `audited`). */
export function postgresApprovals(
  pool: pg.Pool,
  audited: <T>(p: pg.Pool, fn: (c: pg.PoolClient, append: Append) => Promise<T>) => Promise<T>,
): ApprovalMethods {
  const byId = async (c: pg.Pool | pg.PoolClient, id: string) =>
    (await c.query<ApprovalRow>(pgParams(APPROVAL_BY_ID), [id])).rows[0];
  return {
    async insertApproval(a, audit) {
      await audited(pool, async (c, append) => {
        await c.query(pgParams(INSERT_APPROVAL), approvalValues(a));
        await append([audit]);
      });
    },
    async getApproval(id) {
      const r = await byId(pool, id);
      return r ? approvalFromRow(r) : undefined;
    },
    async listApprovals(filter, page) {
      const q = listApprovalsStatement(filter, page);
      const r = await pool.query<ApprovalRow>(pgParams(q.sql), q.params);
      return approvalPage(r.rows, page.limit);
    },
    async decideApproval(id, d, audit) {
      return audited(pool, async (c, append) => {
        const q = decideStatement(id, d);
        const row = (await c.query<ApprovalRow>(pgParams(q.sql), q.params)).rows[0];
        if (row) {
          const a = approvalFromRow(row);
          await append([audit(a)]);
          return { ok: true, approval: a };
        }
        const now = await byId(c, id);
        return { ok: false, approval: now ? approvalFromRow(now) : undefined };
      });
    },
    async deliverApproval(id, nonce: NonceRecord, now, audit) {
      return audited(pool, async (c, append) => {
        const u = await c.query(pgParams(DELIVER_APPROVAL), [nonce.id, now, id]);
        if (u.rowCount === 0) return false;
        await c.query({ ...Q.insertNonce, values: nonceValues(nonce) });
        await append([audit]);
        return true;
      });
    },
  };
}
