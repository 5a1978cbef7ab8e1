import { nonceDraft } from "../app/audit-draft.js";
import type { GatewayContext } from "../app/context.js";
import type { AuditDraft } from "../core/types.js";
import type { DeadReason } from "./dead-nonces.js";

/**
 * Coalesced `nonce.rejected` events for dead nonces (SECURITY.md rule 14): a leaked nonce replayed in a loop must
 * not grow the audit log, nor compete for the store's writer, at the rate of the replay. The same windows carry the
 * AWS refusals that a party who knows only a nonce's id can provoke (the access key id is the nonce id, which is
 * not secret): a wrong signature (`why: signature`) and a body its signed hash does not cover (`why: payload_hash`),
 * so naming a real nonce id in a loop cannot flood the log either (docs/security.md, "Tripwires").
 *
 * Per nonce, reason and `data` (e.g. `{ why: "signature" }`, kept on every event of the window): the first presentation is written at once (`data.count: 1`) and opens a window of
 * WINDOW_MS on the injected clock. Repeats inside the window are only counted; when the window closes, one event
 * carries their `count`, `first_at` and `last_at` (and the method, path, address and request id of the last one),
 * and the next window opens where this one ended. A continuous replay therefore writes one event per minute; a
 * window that closes empty is dropped, so the next presentation is written at once again.
 *
 * Windows close when a presentation of the same nonce finds its window over, on a real-time tick that compares
 * the injected clock with each window's end (so a quiet nonce's count is written within SWEEP_MS of its end),
 * early when the map is full (the oldest window first), and on close(). Events are written in their own batched
 * appends (never in a consume's transaction); a failed write is logged and counted, never thrown: the request
 * is refused either way.
 */

export const WINDOW_MS = 60_000;
const MAX_WINDOWS = 10_000;
const SWEEP_MS = 1_000;

export interface DeadPresentation {
  nonce: { id: string; agent: string; task: string | null; service: string; scopes: string[] };
  /** The event's reason: a dead nonce's, or the refusal's (`nonce_invalid` for a wrong AWS signature). */
  reason: DeadReason | "nonce_invalid";
  /** Fixed per kind of refusal (never per request: it is part of the window's key); merged into `data`. */
  data?: Readonly<Record<string, unknown>>;
  now: number;
  method: string;
  path: string;
  sourceIp: string | null;
  requestId: string;
}

interface Window {
  last: DeadPresentation;
  start: number;
  count: number;
  firstAt: number;
}

interface Batch {
  drafts: AuditDraft[];
  done: Promise<void>;
  resolve: (written: Promise<void>) => void;
}

export class DeadNonceLog {
  private readonly windows = new Map<string, Window>();
  private batch: Batch | null = null;
  private inFlight: Promise<void> = Promise.resolve();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly ctx: GatewayContext,
    private readonly maxWindows = MAX_WINDOWS,
  ) {
    this.sweeper = setInterval(() => this.sweep(this.ctx.clock.now()), SWEEP_MS);
    this.sweeper.unref();
  }

  /**
   * Records one presentation of a dead nonce (or one coalesced refusal). Returns the write of its event when it is the first of a window
   * (the caller answers after it, so the log shows the refusal before the agent sees it), else undefined.
   */
  present(p: DeadPresentation): Promise<void> | undefined {
    const key =
      p.data === undefined ? `${p.nonce.id} ${p.reason}` : `${p.nonce.id} ${p.reason} ${JSON.stringify(p.data)}`;
    let w = this.windows.get(key);
    if (w && w.start + WINDOW_MS <= p.now) {
      this.closeWindow(key, w, p.now, true);
      w = this.windows.get(key);
    }
    if (w) {
      if (w.count === 0) w.firstAt = p.now;
      w.count += 1;
      w.last = p;
      return undefined;
    }
    while (this.windows.size >= this.maxWindows) {
      const oldest = this.windows.entries().next().value as [string, Window];
      this.closeWindow(oldest[0], oldest[1], p.now, false);
    }
    this.windows.set(key, { last: p, start: p.now, count: 0, firstAt: p.now });
    return this.queue(draftOf(p, p.now, 1, p.now, p.now));
  }

  /** Closes every window that is over at `now`. */
  sweep(now: number): void {
    const due: [string, Window][] = [];
    for (const entry of this.windows) if (entry[1].start + WINDOW_MS <= now) due.push(entry);
    for (const [key, w] of due) this.closeWindow(key, w, now, true);
  }

  /** Stops the tick and writes every window's pending count now. Resolves when every write has settled. */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    const now = this.ctx.clock.now();
    for (const [key, w] of [...this.windows]) this.closeWindow(key, w, now, false);
    this.takeBatch();
    await this.inFlight;
  }

  get size(): number {
    return this.windows.size;
  }

  private closeWindow(key: string, w: Window, now: number, reopen: boolean): void {
    this.windows.delete(key);
    if (w.count === 0) return;
    void this.queue(draftOf(w.last, now, w.count, w.firstAt, w.last.now));
    const next = w.start + WINDOW_MS;
    // The next window opens where this one ended, unless it is already over too (nothing can have been counted
    // in it: a presentation would have closed this one first).
    if (reopen && next + WINDOW_MS > now) this.windows.set(key, { last: w.last, start: next, count: 0, firstAt: 0 });
  }

  /** Adds a draft to the batch written on the next turn of the event loop; resolves when that batch settled. */
  private queue(draft: AuditDraft): Promise<void> {
    if (this.batch === null) {
      let resolve!: (written: Promise<void>) => void;
      const done = new Promise<void>((r) => {
        resolve = (written) => r(written);
      });
      const batch: Batch = { drafts: [], done, resolve };
      this.batch = batch;
      setImmediate(() => {
        if (this.batch === batch) this.takeBatch();
      });
    }
    this.batch.drafts.push(draft);
    return this.batch.done;
  }

  private takeBatch(): void {
    const batch = this.batch;
    if (batch === null) return;
    this.batch = null;
    const write = this.ctx.store.appendAudit(batch.drafts).then(
      () => undefined,
      (e: unknown) => {
        this.ctx.metrics.auditWriteFailures.inc(batch.drafts.length);
        this.ctx.log.error(
          { err: e instanceof Error ? e.name : typeof e, events: batch.drafts.length },
          "gateway dead-nonce audit write failed",
        );
      },
    );
    this.inFlight = Promise.all([this.inFlight, write]).then(() => undefined);
    batch.resolve(write);
  }
}

function draftOf(p: DeadPresentation, now: number, count: number, firstAt: number, lastAt: number): AuditDraft {
  const request = { method: p.method, path: p.path, status: null, duration_ms: null, bytes: null };
  const d = nonceDraft("nonce.rejected", p.nonce, p.reason, request, {
    now,
    sourceIp: p.sourceIp,
    requestId: p.requestId,
  });
  d.data = {
    ...d.data,
    ...p.data,
    count,
    first_at: new Date(firstAt).toISOString(),
    last_at: new Date(lastAt).toISOString(),
  };
  return d;
}
