import type { Database, Statement } from "better-sqlite3";
import { NO_STATE, type TxState, writeTx } from "./sqlite-batch.js";
import { AUDIT_INDEX, AUDIT_RETENTION, SCHEMA } from "./sqlite-sql.js";

/**
 * Fills audit_index (migration 005) from audit_events, off the request's transaction. The watermark is
 * `max(seq)` of audit_index: seq only grows and each event is appended under the write lock, so everything
 * above it is the tail still to index, and a crash between an append and its catch-up loses nothing. Retention
 * deletes the same seqs from both tables in one transaction (`pruneAuditRows`), so the watermark never points
 * past a pruned event that the tail would then miss. The statements are AUDIT_INDEX and AUDIT_RETENTION in
 * sqlite-sql.ts.
 */

/**
 * Rows per catch-up transaction: bounds how long one holds the event loop and the write lock (~20 µs a row
 * on a 2-core test machine, so ~10 ms). At 32 connections the gateway appends ~7,000 events a second, ~700 per
 * 100 ms tick.
 */
export const AUDIT_INDEX_SLICE = 500;
/**
 * The server's catch-up period while there is a tail (a full slice is followed at once by the next). Longer
 * periods index more rows per transaction, for the same pages written: 25 -> 100 ms (with the checkpointer's
 * 50 -> 200 ms) cut the gateway's CPU per request by ~6 % in a same-run A/B (docs/BENCHMARKS.md, "Session 4").
 */
const INTERVAL_MS = 100;

type Statements = Record<keyof typeof AUDIT_INDEX, Statement>;
const statements = new WeakMap<Database, Statements>();

function prepared(db: Database): Statements {
  let st = statements.get(db);
  if (st === undefined) {
    st = {
      tail: db.prepare(AUDIT_INDEX.tail).pluck(),
      watermark: db.prepare(AUDIT_INDEX.watermark).pluck(),
      catchUp: db.prepare(AUDIT_INDEX.catchUp),
    };
    statements.set(db, st);
  }
  return st;
}

/**
 * Indexes up to `limit` events of the tail in one write transaction; returns how many. With no tail it starts
 * no transaction, so a caught-up index needs no write lock (a read-only or busy database still answers).
 */
export function catchUpAuditIndex(db: Database, limit: number, state: TxState = NO_STATE): number {
  const st = prepared(db);
  if (!st.tail.get()) return 0;
  return writeTx(db, state, () => st.catchUp.run(st.watermark.get(), limit).changes);
}

/** Retention, inside a write transaction: the `limit` oldest events with seq <= throughSeq, from both tables. */
export function pruneAuditRows(db: Database, throughSeq: number, limit: number): number {
  const last = db.prepare(AUDIT_RETENTION.lastPruned).pluck().get(throughSeq, limit) as number | null;
  if (last === null) return 0;
  db.prepare(AUDIT_RETENTION.pruneIndex).run(last);
  return db.prepare(AUDIT_RETENTION.pruneEvents).run(last).changes;
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export interface AuditIndexerOptions {
  /** Catch up on a timer (the long-running server); otherwise only before reads and on close. */
  background?: boolean;
  slice?: number;
  onWarning?: ((message: string) => void) | undefined;
}

/** The store's catch-up: before filtered reads, on a timer in the server, and fully on close. */
export class AuditIndexer {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private failing = false;
  private readonly slice: number;

  constructor(
    private readonly db: Database,
    private readonly state: TxState,
    private readonly opts: AuditIndexerOptions = {},
  ) {
    this.slice = opts.slice ?? AUDIT_INDEX_SLICE;
  }

  /** Starts the timer (no-op unless `background`); call after migrations created audit_index. */
  start(): void {
    if (this.opts.background && !this.stopped && this.timer === undefined) this.schedule(INTERVAL_MS);
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(this.tick, ms);
    this.timer.unref();
  }

  private readonly tick = (): void => {
    this.timer = undefined;
    if (this.stopped || !this.db.open) return;
    let n = 0;
    try {
      n = this.step();
    } catch (e) {
      this.warn(e);
    }
    this.schedule(n === this.slice ? 0 : INTERVAL_MS);
  };

  private step(): number {
    const n = catchUpAuditIndex(this.db, this.slice, this.state);
    this.failing = false;
    return n;
  }

  private warn(e: unknown): void {
    if (this.failing) return;
    this.failing = true;
    // The code only (e.g. SQLITE_BUSY): never a message that could carry row contents.
    const code = (e as { code?: unknown }).code;
    this.opts.onWarning?.(
      `audit index catch-up failed (${typeof code === "string" ? code : "error"}): filtered audit reads scan audit_events until it succeeds`,
    );
  }

  /**
   * Runs a filtered read exactly: catches the index up (a long tail in slices, yielding to the event loop in
   * between), then the rest and `indexed` in one synchronous step, so nothing this process commits falls in
   * between. If the catch-up cannot write (busy, read-only, disk full), `direct` answers from audit_events.
   */
  async read<R>(indexed: () => R, direct: () => R): Promise<R> {
    try {
      while (this.step() === this.slice) {
        await nextTurn();
        if (!this.db.open) break;
      }
      while (this.step() === this.slice);
    } catch (e) {
      if (!this.db.open) throw e;
      this.warn(e);
      return direct();
    }
    return indexed();
  }

  /** Stops the timer and indexes the whole tail (before close), so the next start has nothing to do. */
  finish(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    // A store closed before its migrations ran has no audit_index: nothing to catch up.
    if (this.db.prepare(SCHEMA.auditIndexExists).get() === undefined) return;
    try {
      while (this.step() === this.slice);
    } catch (e) {
      this.warn(e);
    }
  }
}
