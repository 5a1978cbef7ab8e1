import { appendFile } from "node:fs/promises";
import { Agent, request } from "undici";
import type { Config } from "../config.js";
import { publicEvent } from "../core/audit-chain.js";
import type { AuditEvent } from "../core/types.js";
import { approvalWebhookBody, SIGNATURE_HEADER, signApprovalWebhook, TIMESTAMP_HEADER } from "./approval-webhook.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";

/**
 * Audit sinks: copies of the trail outside the database (a JSONL file, a webhook to a SIEM). Events are offered
 * after commit by the AuditFeed and land in a bounded queue; delivery runs on timers in batches, one batch in
 * flight per sink, retried with exponential backoff and full jitter until it succeeds, so order is kept. A full
 * queue drops the newest events — counted in `agent_nonce_audit_sink_dropped_total{sink}` and logged — rather
 * than ever blocking a request or growing without bound. The database stays the record; `audit export` fills a
 * gap a sink reports.
 */

export type SinkConfig = Config["audit"]["sinks"][number];

interface Delivery {
  deliver(batch: readonly AuditEvent[]): Promise<void>;
  close?(): Promise<void>;
}

/** Status line or error code only: an error's message can carry the URL (and a token in it). */
function describe(e: unknown): string {
  if (e instanceof HttpStatusError) return e.message;
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : e instanceof Error ? e.name : typeof e;
}

class HttpStatusError extends Error {}

const lines = (batch: readonly AuditEvent[]) => batch.map((e) => `${JSON.stringify(publicEvent(e))}\n`).join("");

function fileDelivery(c: Extract<SinkConfig, { type: "file" }>): Delivery {
  return {
    async deliver(batch) {
      await appendFile(c.path, lines(batch), { mode: 0o600 });
    },
  };
}

function webhookDelivery(c: Extract<SinkConfig, { type: "webhook" }>): Delivery {
  // Its own connection pool: a slow SIEM never competes with the gateway's upstream connections.
  const dispatcher = new Agent({ connections: 2, connectTimeout: c.timeout_ms });
  return {
    async deliver(batch) {
      const res = await request(c.url, {
        method: "POST",
        dispatcher,
        headers: { ...(c.headers ?? {}), "content-type": "application/json" },
        body: JSON.stringify({ events: batch.map((e) => publicEvent(e)) }),
        headersTimeout: c.timeout_ms,
        bodyTimeout: c.timeout_ms,
      });
      await res.body.dump();
      // The status only: the receiver's body or the URL may hold credentials.
      if (res.statusCode < 200 || res.statusCode > 299)
        throw new HttpStatusError(`webhook answered HTTP ${res.statusCode}`);
    },
    // Nothing is left to send by now: do not wait for a receiver that holds its sockets open.
    close: () => dispatcher.destroy(),
  };
}

function approvalWebhookDelivery(c: Extract<SinkConfig, { type: "approval_webhook" }>, now: () => number): Delivery {
  const dispatcher = new Agent({ connections: 2, connectTimeout: c.timeout_ms });
  return {
    async deliver(batch) {
      for (const e of batch) {
        const body = approvalWebhookBody(e);
        const timestamp = Math.floor(now() / 1000);
        const res = await request(c.url, {
          method: "POST",
          dispatcher,
          headers: {
            ...(c.headers ?? {}),
            "content-type": "application/json",
            [TIMESTAMP_HEADER]: String(timestamp),
            [SIGNATURE_HEADER]: signApprovalWebhook(c.secret, timestamp, body),
          },
          body,
          headersTimeout: c.timeout_ms,
          bodyTimeout: c.timeout_ms,
        });
        await res.body.dump();
        if (res.statusCode < 200 || res.statusCode > 299)
          throw new HttpStatusError(`approval webhook answered HTTP ${res.statusCode}`);
      }
    },
    close: () => dispatcher.destroy(),
  };
}

export class AuditSink {
  private queue: AuditEvent[] = [];
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private attempt = 0;
  private dropping = 0;
  private closed = false;
  private readonly delivery: Delivery;
  readonly name: string;

  constructor(
    private readonly c: SinkConfig,
    index: number,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly random: () => number = Math.random,
    now: () => number = Date.now,
  ) {
    // A label without the path or URL (either may be sensitive; cardinality stays bounded).
    this.name = `${c.type}-${index}`;
    this.delivery =
      c.type === "file" ? fileDelivery(c) : c.type === "webhook" ? webhookDelivery(c) : approvalWebhookDelivery(c, now);
  }

  /** Called after commit with events in seq order. Never blocks: what does not fit is dropped and counted. */
  offer(offered: readonly AuditEvent[]): void {
    if (this.closed) return;
    // The approval webhook announces pending requests only.
    const events =
      this.c.type === "approval_webhook" ? offered.filter((e) => e.type === "approval.requested") : offered;
    if (events.length === 0) return;
    const room = this.c.max_queue - this.queue.length;
    const kept = room >= events.length ? events : events.slice(0, Math.max(0, room));
    if (kept.length > 0) this.queue.push(...kept);
    const dropped = events.length - kept.length;
    if (dropped > 0) {
      this.metrics.auditSinkDropped.inc({ sink: this.name }, dropped);
      if (this.dropping === 0) {
        this.log.warn({ sink: this.name, queue: this.c.max_queue }, "audit sink queue full: dropping events");
      }
      this.dropping += dropped;
    }
    if (this.inFlight === null && this.timer === null) {
      this.schedule(this.queue.length >= this.c.batch_size ? 0 : this.c.flush_ms);
    }
  }

  get queued(): number {
    return this.queue.length;
  }

  private schedule(ms: number): void {
    if (this.timer !== null || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, ms);
    this.timer.unref();
  }

  private backoffMs(): number {
    const base = this.c.type === "file" ? 250 : this.c.retry_base_ms;
    const max = this.c.type === "file" ? 30_000 : this.c.retry_max_ms;
    return Math.floor(this.random() * Math.min(max, base * 2 ** Math.min(this.attempt, 30)));
  }

  /** Delivers one batch (the oldest events); on failure keeps it at the head of the queue for the retry. */
  flush(): Promise<void> {
    if (this.inFlight || this.queue.length === 0) return this.inFlight ?? Promise.resolve();
    const batch = this.queue.slice(0, this.c.batch_size);
    this.inFlight = this.delivery.deliver(batch).then(
      () => {
        this.queue.splice(0, batch.length);
        this.attempt = 0;
        this.metrics.auditSinkDelivered.inc({ sink: this.name }, batch.length);
        if (this.dropping > 0) {
          this.log.warn({ sink: this.name, dropped: this.dropping }, "audit sink delivering again after drops");
          this.dropping = 0;
        }
        this.inFlight = null;
        if (this.queue.length > 0) this.schedule(this.queue.length >= this.c.batch_size ? 0 : this.c.flush_ms);
      },
      (e: unknown) => {
        this.attempt += 1;
        this.metrics.auditSinkRetries.inc({ sink: this.name });
        const delay = this.backoffMs();
        this.log.warn(
          { sink: this.name, attempt: this.attempt, retry_in_ms: delay, err: describe(e) },
          "audit sink delivery failed",
        );
        this.inFlight = null;
        this.schedule(delay);
      },
    );
    return this.inFlight;
  }

  /** Stops accepting events and makes one last attempt to deliver what is queued. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.inFlight;
    while (this.queue.length > 0) {
      const before = this.queue.length;
      await this.flush();
      if (this.queue.length >= before) break;
    }
    if (this.queue.length > 0) {
      this.metrics.auditSinkDropped.inc({ sink: this.name }, this.queue.length);
      this.log.warn({ sink: this.name, dropped: this.queue.length }, "audit sink closed with undelivered events");
    }
    await this.delivery.close?.();
  }
}
