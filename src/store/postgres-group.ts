import type pg from "pg";
import { link } from "../core/audit-chain.js";
import type { AuditEvent } from "../core/types.js";
import { type Append, audited, BEGIN_LOCKED, headOf, insertEvents, inTransaction } from "./postgres-tx.js";
import { normalizeDraft } from "./rows.js";

/** An audited write: its statements, with `append` linking its events onto the chain. */
export type TxFn<T> = (c: pg.PoolClient, append: Append) => Promise<T>;

interface Job {
  fn: TxFn<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

// Bounded so one transaction (and the head lock every replica waits on) stays short.
const MAX_BATCH = 256;

/**
 * Group commit for the per-request audited writes (consume, issue, audit append), like sqlite-batch.ts: the
 * writes queued while a batch is in flight (or in the same event-loop turn) run in ONE transaction that locks
 * the chain head once, runs every job's statements, inserts all their audit rows in one statement and commits
 * once. One commit (one WAL flush, one head-lock hold) then covers the whole batch instead of one per request.
 *
 * Optimistic: if anything in the batch fails, it is rolled back and every job re-runs alone in its own
 * transaction, so a failing write fails alone. Every promise settles only after its COMMIT.
 */
export function pgGroupCommit(pool: pg.Pool, onCommit: (events: AuditEvent[]) => void) {
  const queue: Job[] = [];
  let running = false;
  let idle: Promise<void> = Promise.resolve();
  let settleIdle = () => {};

  const schedule = () => {
    if (running) return;
    running = true;
    idle = new Promise((resolve) => {
      settleIdle = resolve;
    });
    setImmediate(() => void loop());
  };

  const loop = async (): Promise<void> => {
    while (queue.length > 0) await flush(queue.splice(0, MAX_BATCH));
    running = false;
    settleIdle();
  };

  const flush = async (jobs: Job[]): Promise<void> => {
    let values: unknown[];
    const written: AuditEvent[] = [];
    try {
      values = await inTransaction(pool, BEGIN_LOCKED, async (c, began) => {
        let head = headOf(began);
        const append: Append = async (drafts) => {
          if (drafts.length === 0) return [];
          const events = link(drafts.map(normalizeDraft), head);
          const last = events[events.length - 1] as AuditEvent;
          head = { seq: last.seq, hash: last.hash };
          written.push(...events);
          return events;
        };
        const out: unknown[] = [];
        for (const job of jobs) out.push(await job.fn(c, append));
        if (written.length > 0) await insertEvents(c, written);
        return out;
      });
    } catch {
      // Something in the batch failed (or the connection did): nothing committed. Re-run alone, in order.
      for (const job of jobs) {
        await audited(pool, job.fn, onCommit).then(job.resolve, job.reject);
      }
      return;
    }
    if (written.length > 0) onCommit(written);
    jobs.forEach((job, i) => {
      job.resolve(values[i]);
    });
  };

  return {
    run<T>(fn: TxFn<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
        schedule();
      });
    },
    /** Resolves once every queued write has settled (before closing the pool). */
    drain(): Promise<void> {
      return idle;
    },
  };
}
