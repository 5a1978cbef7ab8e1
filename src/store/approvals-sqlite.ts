import type BetterSqlite3 from "better-sqlite3";
import type { AuditDraft, AuditEvent, NonceRecord } from "../core/types.js";
import {
  approvalFromRow,
  approvalPage,
  approvalValues,
  decideStatement,
  listApprovalsStatement,
} from "./approval-rows.js";
import type { ApprovalRow } from "./schema.js";
import { APPROVALS } from "./sqlite-sql.js";
import type { Store } from "./store.js";

type ApprovalMethods = Pick<
  Store,
  "insertApproval" | "getApproval" | "listApprovals" | "decideApproval" | "deliverApproval"
>;

/** SQLite approvals: each write is one IMMEDIATE transaction with its audit event (see sqlite.ts `tx`). */
export function sqliteApprovals(
  db: BetterSqlite3.Database,
  tx: <R>(fn: () => R) => () => R,
  append: (drafts: readonly AuditDraft[]) => AuditEvent[],
  insertNonce: (n: NonceRecord) => void,
): ApprovalMethods {
  const byId = (id: string) => db.prepare(APPROVALS.approvalById).get(id) as ApprovalRow | undefined;
  return {
    async insertApproval(a, audit) {
      tx(() => {
        db.prepare(APPROVALS.insertApproval).run(...approvalValues(a));
        append([audit]);
      })();
    },
    async getApproval(id) {
      const r = byId(id);
      return r ? approvalFromRow(r) : undefined;
    },
    async listApprovals(filter, page) {
      const q = listApprovalsStatement(filter, page);
      return approvalPage(db.prepare(q.sql).all(...q.params) as ApprovalRow[], page.limit);
    },
    async decideApproval(id, d, audit) {
      return tx(() => {
        const q = decideStatement(id, d);
        const row = db.prepare(q.sql).get(...q.params) as ApprovalRow | undefined;
        if (row) {
          const a = approvalFromRow(row);
          append([audit(a)]);
          return { ok: true, approval: a };
        }
        const now = byId(id);
        return { ok: false, approval: now ? approvalFromRow(now) : undefined };
      })();
    },
    async deliverApproval(id, nonce, now, audit) {
      return tx(() => {
        const r = db.prepare(APPROVALS.deliverApproval).run(nonce.id, now, id);
        if (r.changes === 0) return false;
        insertNonce(nonce);
        append([audit]);
        return true;
      })();
    },
  };
}
