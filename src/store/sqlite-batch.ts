import type BetterSqlite3 from "better-sqlite3";
import { TX } from "./sqlite-sql.js";

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

interface Job {
  run: () => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/**
 * In-memory state that follows the transaction (the audit chain head): `begin` runs first inside every write
 * transaction, `beforeCommit` last; `mark`/`undo` bracket a job whose savepoint rolled back; `settle` tells
 * whether the transaction committed (false: everything since `begin` is gone).
 */
export interface TxState {
  begin(): void;
  mark(): unknown;
  undo(mark: unknown): void;
  beforeCommit(): void;
  settle(committed: boolean): void;
}

export const NO_STATE: TxState = { begin() {}, mark: () => undefined, undo() {}, beforeCommit() {}, settle() {} };

const txStatements = new WeakMap<
  BetterSqlite3.Database,
  Record<"begin" | "commit" | "rollback", BetterSqlite3.Statement>
>();

/**
 * Runs `body` in one IMMEDIATE transaction, keeping `state` in step with what committed. The three statements
 * are prepared once per connection: `db.transaction(fn)` per call costs as much again as BEGIN+COMMIT.
 */
export function writeTx<R>(db: BetterSqlite3.Database, state: TxState, body: () => R): R {
  let st = txStatements.get(db);
  if (st === undefined) {
    st = { begin: db.prepare(TX.begin), commit: db.prepare(TX.commit), rollback: db.prepare(TX.rollback) };
    txStatements.set(db, st);
  }
  let value: R;
  st.begin.run();
  try {
    state.begin();
    value = body();
    state.beforeCommit();
    st.commit.run();
  } catch (e) {
    // A failed COMMIT may have rolled back already (SQLite does on some I/O errors).
    if (db.inTransaction) st.rollback.run();
    state.settle(false);
    throw e;
  }
  state.settle(true);
  return value;
}

/**
 * Group commit for the per-request writes (consume, issue, audit append). Writes queued during one turn of the
 * event loop run in a single IMMEDIATE transaction: with synchronous=FULL one WAL sync then covers the whole
 * batch instead of one per request. Optimistic: the batch runs without savepoints (they cost as much as the
 * writes); if any write throws, the whole transaction is rolled back and the batch re-run with a savepoint per
 * write, so a failing write fails alone. Every promise settles only after the commit, so a caller never acts
 * on a write that was not durable. Re-running calls a write's function twice: writes must not have effects
 * outside the transaction and `state`.
 */
const MAX_BATCH = 256;

export function groupCommit(db: BetterSqlite3.Database, state: TxState = NO_STATE) {
  const queue: Job[] = [];
  let scheduled = false;

  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(flush);
  };

  const optimistic = (jobs: Job[]): Outcome[] =>
    writeTx(db, state, () => jobs.map((job): Outcome => ({ ok: true, value: job.run() })));

  const isolated = (jobs: Job[]): Outcome[] =>
    writeTx(db, state, () =>
      jobs.map((job): Outcome => {
        const mark = state.mark();
        try {
          return { ok: true, value: db.transaction(job.run)() };
        } catch (error) {
          state.undo(mark);
          // SQLite rolls the whole transaction back on some errors (disk full, I/O): then nothing in this
          // batch committed, and running the rest outside a transaction would be wrong.
          if (!db.inTransaction) throw error;
          return { ok: false, error };
        }
      }),
    );

  const flush = (): void => {
    scheduled = false;
    // Bounded so one transaction never holds the event loop for long; the rest go in the next turn.
    const jobs = queue.splice(0, MAX_BATCH);
    if (queue.length > 0) schedule();
    if (jobs.length === 0) return;
    let outcomes: Outcome[];
    try {
      outcomes = optimistic(jobs);
    } catch (error) {
      // Alone in its batch, the failing write is the one that threw: nothing to isolate.
      if (jobs.length === 1) outcomes = [{ ok: false, error }];
      else {
        try {
          outcomes = isolated(jobs);
        } catch (fatal) {
          for (const job of jobs) job.reject(fatal);
          return;
        }
      }
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
