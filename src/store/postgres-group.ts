import type pg from "pg";
import type { AuditEvent } from "../core/types.js";
import { type Outcome, runAlone, runBatch, type Write } from "./postgres-writes.js";

interface Job {
  write: Write;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

// Bounded so one transaction (and the head lock every replica waits on) stays short.
const MAX_BATCH = 256;

/**
 * Group commit for the per-request audited writes (consume, issue, audit append), like sqlite-batch.ts: the
 * writes queued while a batch is in flight (or in the same event-loop turn) run in ONE transaction that locks
 * the chain head once, writes everything in one statement and commits once (postgres-writes.ts: three round
 * trips per batch). One commit (one WAL flush, one head-lock hold) then covers the whole batch.
 *
 * Optimistic: if the database refuses anything in the batch, it is rolled back and every write re-runs alone
 * in its own transaction, so a failing write fails alone. Every promise settles only after its COMMIT.
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
    let done: { outcomes: Outcome[]; events: AuditEvent[] };
    try {
      done = await runBatch(
        pool,
        jobs.map((j) => j.write),
      );
    } catch {
      // The batch (or its connection) failed and nothing committed: each write again, alone, in order.
      for (const job of jobs) await runAlone(pool, job.write, onCommit).then(job.resolve, job.reject);
      return;
    }
    if (done.events.length > 0) onCommit(done.events);
    jobs.forEach((job, i) => {
      const o = done.outcomes[i] as Outcome;
      if (o.ok) job.resolve(o.value);
      else job.reject(o.error);
    });
  };

  return {
    run<T>(write: Write): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        queue.push({ write, resolve: resolve as (v: unknown) => void, reject });
        schedule();
      });
    },
    /** Resolves once every queued write has settled (before closing the pool). */
    drain(): Promise<void> {
      return idle;
    },
  };
}
