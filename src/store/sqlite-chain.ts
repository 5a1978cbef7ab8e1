import type { Database, Statement } from "better-sqlite3";
import type { AuditDraft, AuditEvent } from "../core/types.js";
import { linkDrafts } from "./rows.js";
import type { TxState } from "./sqlite-batch.js";
import { AUDIT } from "./sqlite-sql.js";

interface Head {
  seq: number;
  hash: string;
}

/**
 * The SQLite audit appender. The chain head lives in memory: read once, advanced by each append, written to
 * `audit_head` once per transaction (just before COMMIT) and kept only if the transaction committed (a
 * rolled-back transaction or savepoint puts the previous head back). The SQLite store is one process by
 * design, but another connection committing to the file (a CLI run by mistake next to a server) is detected
 * with `PRAGMA data_version` at the start of each write transaction, and the head is re-read.
 */
export class SqliteChain implements TxState {
  private committed: Head | undefined;
  private current: Head | undefined;
  private version = -1;
  /** Events appended by the write running now (writes are synchronous), reported after commit. */
  private written: AuditEvent[] = [];
  private readonly st: { head: Statement; setHead: Statement; insertEvent: Statement; dataVersion: Statement };

  constructor(db: Database) {
    this.st = {
      head: db.prepare(AUDIT.head),
      setHead: db.prepare(AUDIT.setHead),
      insertEvent: db.prepare(AUDIT.insertEvent),
      dataVersion: db.prepare(AUDIT.dataVersion).pluck(),
    };
  }

  /** Links drafts onto the chain head and writes them; call only inside a write transaction. */
  append(drafts: readonly AuditDraft[]): AuditEvent[] {
    if (drafts.length === 0) return [];
    const { events, rows } = linkDrafts(drafts, this.head());
    for (const r of rows) {
      this.st.insertEvent.run(
        r.seq,
        r.id,
        r.time,
        r.type,
        r.actor,
        r.actor_id,
        r.agent,
        r.task,
        r.nonce_id,
        r.service,
        r.scopes,
        r.reason,
        r.request,
        r.source_ip,
        r.data,
        r.prev_hash,
        r.hash,
        r.nonce_id,
      );
    }
    const last = events[events.length - 1] as AuditEvent;
    this.current = { seq: last.seq, hash: last.hash };
    for (const e of events) this.written.push(e);
    return events;
  }

  /** Runs one synchronous write and returns what it appended (nothing is kept if it throws). */
  capture<R>(fn: () => R): { value: R; events: AuditEvent[] } {
    this.written = [];
    try {
      const value = fn();
      return { value, events: this.written };
    } finally {
      this.written = [];
    }
  }

  private head(): Head {
    if (this.current === undefined) {
      this.committed = this.st.head.get() as Head;
      this.current = this.committed;
    }
    return this.current;
  }

  begin(): void {
    const v = this.st.dataVersion.get() as number;
    if (v !== this.version) {
      // First transaction, or another connection committed since our last one: its head is the truth.
      this.version = v;
      this.committed = undefined;
      this.current = undefined;
    }
  }

  mark(): unknown {
    return this.current;
  }

  undo(mark: unknown): void {
    this.current = mark as Head | undefined;
  }

  beforeCommit(): void {
    const h = this.current;
    if (h !== undefined && h !== this.committed) this.st.setHead.run(h.seq, h.hash);
  }

  settle(committed: boolean): void {
    if (committed) this.committed = this.current;
    else this.current = this.committed;
  }
}
