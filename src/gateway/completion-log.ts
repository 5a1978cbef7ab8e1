import type { GatewayContext } from "../app/context.js";
import type { AuditDraft } from "../core/types.js";

/**
 * `nonce.completed` events are written off the response path and in batches: one store transaction per
 * FLUSH_MS (or per MAX_BATCH events) instead of one per request. The fail-closed guarantee rests on
 * `nonce.used`, which the consume transaction writes before the credential is injected; a completion event is
 * the outcome record, so losing at most FLUSH_MS of them in a crash is the accepted trade. Failures are logged
 * and counted in `agent_nonce_audit_write_failures_total`, never thrown.
 *
 * `beforeWrite()` is called just before the gateway queues a consume: pending events are handed to the store in
 * the same turn, so a group-committing store (SQLite) writes them in the consume's transaction — one WAL sync
 * for both instead of a second transaction (and sync) from the timer. Events still never wait longer than FLUSH_MS.
 */

const FLUSH_MS = 5;
const MAX_BATCH = 500;

export class CompletionLog {
  private pending: AuditDraft[] = [];
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> = Promise.resolve();

  constructor(private readonly ctx: GatewayContext) {}

  push(draft: AuditDraft): void {
    this.pending.push(draft);
    if (this.pending.length >= MAX_BATCH) this.flush();
    else if (this.timer === null) {
      this.timer = setTimeout(() => this.flush(), FLUSH_MS);
      this.timer.unref();
    }
  }

  /** Hands pending events to the store now, to share the transaction about to be queued. */
  beforeWrite(): void {
    if (this.pending.length > 0) void this.flush();
  }

  /** Writes everything pending; resolves when every write started so far has settled. */
  flush(): Promise<void> {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      const write = this.ctx.store.appendAudit(batch).then(
        () => undefined,
        (e: unknown) => {
          this.ctx.metrics.auditWriteFailures.inc(batch.length);
          this.ctx.log.error(
            { err: e instanceof Error ? e.name : typeof e, events: batch.length },
            "gateway completion audit write failed",
          );
        },
      );
      this.inFlight = Promise.all([this.inFlight, write]).then(() => undefined);
    }
    return this.inFlight;
  }
}
