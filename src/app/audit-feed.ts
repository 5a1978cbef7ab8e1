import type { AuditEvent } from "../core/types.js";
import type { AuditStore } from "../store/store.js";
import type { Logger } from "./logger.js";

/**
 * Committed audit events, in seq order, for live readers (the SSE stream, sinks). Events this process commits
 * arrive from `Store.onAuditCommitted` without a read; when one is out of order (PostgreSQL connections commit
 * concurrently) or another replica wrote in between, the feed reads the missing range from the store instead,
 * and a poll every `pollMs` picks up other replicas' events. With no subscriber it only tracks the position.
 */
const PAGE = 1000;

export class AuditFeed {
  private lastSeq = 0;
  private readonly subs = new Set<(events: readonly AuditEvent[]) => void>();
  private off: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private catching: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly store: AuditStore,
    private readonly log: Logger,
    private readonly pollMs: number,
  ) {}

  async start(): Promise<void> {
    this.lastSeq = (await this.store.auditHead()).seq;
    this.off = this.store.onAuditCommitted((events) => this.committed(events));
    this.timer = setInterval(() => {
      if (this.subs.size > 0) void this.catchUp();
    }, this.pollMs);
    this.timer.unref();
  }

  /** The seq of the last event dispatched (or seen, with no subscriber). */
  get position(): number {
    return this.lastSeq;
  }

  /** Receives every event committed after this call, in seq order, in batches. Must not throw or block. */
  subscribe(fn: (events: readonly AuditEvent[]) => void): () => void {
    this.subs.add(fn);
    return () => {
      this.subs.delete(fn);
    };
  }

  private committed(events: readonly AuditEvent[]): void {
    const last = (events[events.length - 1] as AuditEvent).seq;
    if (last <= this.lastSeq) return;
    if (this.subs.size === 0) {
      this.lastSeq = last;
      return;
    }
    if (this.catching) {
      this.again = true;
      return;
    }
    const fresh = events.filter((e) => e.seq > this.lastSeq);
    if ((fresh[0] as AuditEvent).seq === this.lastSeq + 1) this.dispatch(fresh);
    else void this.catchUp();
  }

  private dispatch(events: readonly AuditEvent[]): void {
    if (events.length === 0) return;
    this.lastSeq = (events[events.length - 1] as AuditEvent).seq;
    for (const fn of this.subs) {
      try {
        fn(events);
      } catch (e) {
        this.log.error({ err: e instanceof Error ? e.name : typeof e }, "audit feed subscriber failed");
      }
    }
  }

  /** Reads everything after the current position from the store. Single-flight. */
  catchUp(): Promise<void> {
    this.catching ??= (async () => {
      try {
        do {
          this.again = false;
          for (;;) {
            const page = await this.store.scanAudit(this.lastSeq, PAGE);
            this.dispatch(page);
            if (page.length < PAGE) break;
          }
        } while (this.again);
      } catch (e) {
        this.log.warn({ err: e instanceof Error ? e.name : typeof e }, "audit feed could not read the store");
      } finally {
        this.catching = null;
      }
    })();
    return this.catching;
  }

  close(): void {
    this.off?.();
    this.off = null;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.subs.clear();
  }
}
