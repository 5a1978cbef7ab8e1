import type BetterSqlite3 from "better-sqlite3";

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

interface Job {
  run: () => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/**
 * Group commit for the per-request writes (consume, issue, audit append). Writes queued during one turn of the
 * event loop run in a single IMMEDIATE transaction, each inside its own savepoint (better-sqlite3 nests
 * transactions that way): with synchronous=FULL one WAL sync then covers the whole batch instead of one per
 * request. A failing write rolls back only its savepoint; every promise settles only after the commit, so a
 * caller never acts on a write that was not durable.
 */
const MAX_BATCH = 256;

export function groupCommit(db: BetterSqlite3.Database) {
  const queue: Job[] = [];
  let scheduled = false;

  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(flush);
  };

  const flush = (): void => {
    scheduled = false;
    // Bounded so one transaction never holds the event loop for long; the rest go in the next turn.
    const jobs = queue.splice(0, MAX_BATCH);
    if (queue.length > 0) schedule();
    if (jobs.length === 0) return;
    const outcomes: Outcome[] = [];
    try {
      db.transaction(() => {
        for (const job of jobs) {
          try {
            outcomes.push({ ok: true, value: db.transaction(job.run)() });
          } catch (error) {
            // SQLite rolls the whole transaction back on some errors (disk full, I/O): then nothing in this
            // batch committed, and running the rest outside a transaction would be wrong.
            if (!db.inTransaction) throw error;
            outcomes.push({ ok: false, error });
          }
        }
      }).immediate();
    } catch (error) {
      for (const job of jobs) job.reject(error);
      return;
    }
    jobs.forEach((job, i) => {
      const o = outcomes[i] as Outcome;
      if (o.ok) job.resolve(o.value);
      else job.reject(o.error);
    });
  };

  return {
    /** Queues a synchronous write; it runs with the others queued in this turn. */
    run<T>(fn: () => T): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        queue.push({ run: fn, resolve: resolve as (v: unknown) => void, reject });
        schedule();
      });
    },
    /** Runs everything queued now (before closing the database). */
    drain(): void {
      while (queue.length > 0) flush();
    },
  };
}
