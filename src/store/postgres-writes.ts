import type pg from "pg";
import { isUsable } from "../core/nonces.js";
import type { AuditDraft, AuditEvent, NonceRecord } from "../core/types.js";
import { ANCESTORS_PG, type AncestorRow, ancestorRowsAlive } from "./lineage.js";
import { rateDecision, rejectReason } from "./outcomes.js";
import { lockAndRead, nonceValues, Q, WRITE_BATCH, writeBatchParams } from "./postgres-sql.js";
import { audited, headOf, inTransaction } from "./postgres-tx.js";
import { type AuditInsertRow, linkDrafts, nonceFromRow, nonceToRow, stateFromRow } from "./rows.js";
import type { NonceRow, NonceStateRow } from "./schema.js";
import type { ConsumeRefusal, ConsumeResult } from "./store.js";

/** The group-committed writes (see postgres-group.ts), as data so a batch can be planned as a whole. */
export type Write =
  | {
      kind: "consume";
      key: Buffer;
      now: number;
      onOk: (n: NonceRecord) => AuditDraft;
      onReject: (reason: ConsumeRefusal, n: NonceRecord | null) => AuditDraft | null;
    }
  | { kind: "insert"; nonce: NonceRecord; audit: AuditDraft }
  | { kind: "append"; drafts: readonly AuditDraft[] };

export type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** One write in its own transaction, statement by statement: the retry path when a batch failed. */
export function runAlone(pool: pg.Pool, w: Write, onCommit: (events: AuditEvent[]) => void): Promise<unknown> {
  switch (w.kind) {
    case "append":
      return audited(pool, (_c, append) => append(w.drafts), onCommit);
    case "insert":
      return audited(
        pool,
        async (c, append) => {
          await c.query({ ...Q.insertNonce, values: nonceValues(w.nonce) });
          await append([w.audit]);
        },
        onCommit,
      );
    case "consume":
      return audited(
        pool,
        async (c, append): Promise<ConsumeResult> => {
          // Delegated nonces: the chain is read first, in this transaction (store/lineage.ts).
          const state = await c.query<NonceStateRow>({ ...Q.nonceStateByKey, values: [w.key] });
          const parentId = state.rows[0]?.parent_id ?? null;
          if (parentId !== null && !(await chainAlive(c, parentId, w.now))) {
            const found = await c.query<NonceRow>({ ...Q.nonceByKey, values: [w.key] });
            const nonce = found.rows[0] ? nonceFromRow(found.rows[0]) : null;
            const draft = w.onReject("nonce_revoked", nonce);
            if (draft) await append([draft]);
            return { ok: false, reason: "nonce_revoked", nonce };
          }
          const used = await c.query<NonceRow>({ ...Q.consume, values: [w.key, w.now] });
          if (used.rows[0]) {
            const nonce = nonceFromRow(used.rows[0]);
            await append([w.onOk(nonce)]);
            return { ok: true, nonce };
          }
          // Refused, or a nonce with a rate: decided on the row locked until COMMIT, like a batch (runBatch).
          const found = await c.query<NonceRow>({ ...Q.nonceForUse, values: [w.key] });
          const row = found.rows[0];
          const nonce = row ? nonceFromRow(row) : null;
          const rate = row && usable(row, w.now) ? rateDecision(row, w.now) : null;
          if (rate?.ok === false && nonce) {
            const draft = w.onReject("rate_limited", nonce);
            if (draft) await append([draft]);
            return { ok: false, reason: "rate_limited", retryAfterMs: rate.retryAfterMs, nonce };
          }
          if (rate?.ok && row && nonce) {
            await c.query({ ...Q.countRatedUse, values: [row.id, rate.tat.ms, rate.tat.frac] });
            nonce.uses += 1;
            await append([w.onOk(nonce)]);
            return { ok: true, nonce };
          }
          const reason = rejectReason(nonce, w.now);
          const draft = w.onReject(reason, nonce);
          if (draft) await append([draft]);
          return { ok: false, reason, nonce };
        },
        onCommit,
      );
  }
}

async function chainAlive(
  c: pg.PoolClient,
  parentId: string,
  now: number,
  override?: (id: string) => NonceStateRow | undefined,
): Promise<boolean> {
  const r = await c.query<AncestorRow>({ ...ANCESTORS_PG, values: [parentId] });
  return ancestorRowsAlive(r.rows, now, override);
}

// The same condition as Q.consume's WHERE clause (usableNonceSql), decided in Node on the locked row.
function usable(r: NonceRow, now: number): boolean {
  return isUsable(stateFromRow(r), now);
}

interface Slot {
  row: NonceRow;
  inserted: boolean;
  dirty: boolean;
}

/**
 * A whole batch in three round trips whatever its size: BEGIN + head lock + the consumed rows locked; one
 * statement with every write; COMMIT. Consumes are decided in Node, in queue order, on the locked rows (so two
 * consumes of one nonce in a batch count twice, exactly as two transactions would). A write whose callback or
 * draft throws fails alone before anything is sent; any database error fails the whole batch (the caller then
 * re-runs each write alone). Returns the outcomes in order and the events written, in seq order.
 */
export async function runBatch(
  pool: pg.Pool,
  writes: readonly Write[],
): Promise<{ outcomes: Outcome[]; events: AuditEvent[] }> {
  const keys = new Set<string>();
  for (const w of writes) if (w.kind === "consume") keys.add(w.key.toString("hex"));
  return inTransaction(pool, lockAndRead([...keys]), async (c, began) => {
    let head = headOf(began);
    const slots = new Map<string, Slot>();
    for (const r of (began[2]?.rows ?? []) as NonceRow[]) {
      slots.set(r.token_key.toString("hex"), { row: r, inserted: false, dirty: false });
    }
    // Every insert is sent, even one whose key the batch already knows: the unique index must see duplicates.
    const inserted: Slot[] = [];
    const issuedBy = new Map<string, string>();
    for (const s of slots.values()) issuedBy.set(s.row.id, s.row.issued_by);
    // Delegated nonces: each chain above a consumed row, read once in this transaction (store/lineage.ts); an
    // ancestor consumed earlier in this batch is decided on its updated row.
    const byId = new Map<string, Slot>();
    for (const s of slots.values()) byId.set(s.row.id, s);
    const overrideRow = (id: string) => byId.get(id)?.row;
    const chains = new Map<string, AncestorRow[]>();
    for (const s of slots.values()) {
      const p = s.row.parent_id;
      if (p && !chains.has(p)) chains.set(p, (await c.query<AncestorRow>({ ...ANCESTORS_PG, values: [p] })).rows);
    }
    const events: AuditEvent[] = [];
    const rows: AuditInsertRow[] = [];
    const outcomes: Outcome[] = [];
    for (const w of writes) {
      try {
        let drafts: readonly AuditDraft[];
        let value: unknown;
        let apply = () => {};
        if (w.kind === "append") {
          drafts = w.drafts;
        } else if (w.kind === "insert") {
          const row = nonceToRow(w.nonce);
          drafts = [w.audit];
          apply = () => {
            const slot = { row, inserted: true, dirty: false };
            inserted.push(slot);
            const key = row.token_key.toString("hex");
            if (!slots.has(key)) slots.set(key, slot);
            if (!issuedBy.has(row.id)) issuedBy.set(row.id, row.issued_by);
          };
        } else {
          const slot = slots.get(w.key.toString("hex"));
          const parent = slot?.row.parent_id;
          const lineageOk = !parent || ancestorRowsAlive(chains.get(parent) ?? [], w.now, overrideRow);
          const live = slot && usable(slot.row, w.now) && lineageOk;
          // A live nonce's rate is decided only then: a dead one is refused for being dead, whatever its rate.
          const rate = slot && live ? rateDecision(slot.row, w.now) : null;
          if (slot && rate?.ok === false) {
            const nonce = nonceFromRow(slot.row);
            const draft = w.onReject("rate_limited", nonce);
            drafts = draft ? [draft] : [];
            value = {
              ok: false,
              reason: "rate_limited",
              retryAfterMs: rate.retryAfterMs,
              nonce,
            } satisfies ConsumeResult;
          } else if (slot && live) {
            const tat = rate?.ok ? { rate_tat: rate.tat.ms, rate_tat_frac: rate.tat.frac } : {};
            const next = { ...slot.row, uses: slot.row.uses + 1, ...tat };
            const nonce = nonceFromRow(next);
            drafts = [w.onOk(nonce)];
            value = { ok: true, nonce } satisfies ConsumeResult;
            apply = () => {
              slot.row = next;
              slot.dirty = true;
            };
          } else {
            const nonce = slot ? nonceFromRow(slot.row) : null;
            const reason = lineageOk ? rejectReason(nonce, w.now) : "nonce_revoked";
            const draft = w.onReject(reason, nonce);
            drafts = draft ? [draft] : [];
            value = { ok: false, reason, nonce } satisfies ConsumeResult;
          }
        }
        const { events: linked, rows: linkedRows } = linkDrafts(drafts, head);
        const last = linked[linked.length - 1];
        if (last) head = { seq: last.seq, hash: last.hash };
        apply();
        events.push(...linked);
        rows.push(...linkedRows);
        outcomes.push({ ok: true, value: w.kind === "append" ? linked : value });
      } catch (error) {
        outcomes.push({ ok: false, error });
      }
    }
    const inserts = inserted.map((s) => s.row);
    const updates = [...slots.values()].filter((s) => s.dirty && !s.inserted).map((s) => s.row);
    if (inserts.length + updates.length + events.length > 0) {
      await c.query({ ...WRITE_BATCH, values: writeBatchParams(inserts, updates, rows, issuedBy, head) });
    }
    return { outcomes, events };
  });
}
