import { randomBytes } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { eventFromPublic, verifyChain } from "../core/audit-chain.js";
import { newId } from "../core/ids.js";
import type { AuditDraft, AuditEvent } from "../core/types.js";
import type { Store } from "../store/store.js";
import { createTestSqliteStore, dialects } from "../test/stores.js";
import { AuditFeed } from "./audit-feed.js";
import { AuditSink, type SinkConfig } from "./audit-sinks.js";
import { createLogger } from "./logger.js";
import { createMetrics, type Metrics } from "./metrics.js";

const draft = (i: number): AuditDraft => ({
  id: newId("evt", 1000 + i),
  time: 1000 + i,
  type: "service.updated",
  actor: null,
  agent: null,
  task: null,
  nonceId: null,
  service: `s${i}`,
  scopes: null,
  reason: null,
  request: null,
  sourceIp: null,
  data: null,
});

interface Receiver {
  url: string;
  attempts: number;
  received: Record<string, unknown>[];
  close(): Promise<void>;
}

/** A loopback webhook receiver: `answer(attempt)` is the status to send, or null to never answer. */
async function receiver(answer: (attempt: number) => number | null): Promise<Receiver> {
  const r: Receiver = { url: "", attempts: 0, received: [], close: async () => undefined };
  const hung: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      r.attempts += 1;
      const status = answer(r.attempts);
      if (status === null) {
        hung.push(res);
        return;
      }
      if (status === 200) r.received.push(...(JSON.parse(Buffer.concat(chunks).toString()).events as []));
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ingest?token=hook-secret`;
  r.close = () =>
    new Promise((resolve) => {
      for (const res of hung) res.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return r;
}

const webhook = (url: string, over: Partial<Extract<SinkConfig, { type: "webhook" }>> = {}): SinkConfig => ({
  type: "webhook",
  url,
  headers: { authorization: "Bearer siem-token" },
  batch_size: 5,
  flush_ms: 5,
  max_queue: 1000,
  timeout_ms: 2000,
  retry_base_ms: 5,
  retry_max_ms: 20,
  ...over,
});

const counter = async (m: Metrics, name: string, sink: string) =>
  (await m.registry.getSingleMetric(name)?.get())?.values.find((v) => v.labels.sink === sink)?.value ?? 0;

describe("audit sinks", () => {
  let store: Store;
  let feed: AuditFeed;
  let metrics: Metrics;
  const log = createLogger("silent");
  beforeEach(async () => {
    store = await createTestSqliteStore();
    feed = new AuditFeed(store, log, 60_000);
    await feed.start();
    metrics = createMetrics({ defaultMetrics: false });
  });
  afterEach(async () => {
    feed.close();
    await store.close();
  });

  it("webhook: retries with backoff after failures, then delivers everything in order", async () => {
    const rx = await receiver((n) => (n <= 2 ? 503 : 200));
    const sink = new AuditSink(webhook(rx.url), 0, log, metrics);
    feed.subscribe((e) => sink.offer(e));
    for (let i = 0; i < 23; i += 4) await store.appendAudit([draft(i), draft(i + 1), draft(i + 2), draft(i + 3)]);
    await vi.waitFor(() => expect(rx.received).toHaveLength(24), { timeout: 5000 });
    expect(rx.received.map((e) => e.seq)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    expect(verifyChain(rx.received.map(eventFromPublic))).toEqual({ ok: true, events: 24 });
    expect(rx.attempts).toBeGreaterThanOrEqual(2 + Math.ceil(24 / 5));
    expect(await counter(metrics, "agent_nonce_audit_sink_retries_total", "webhook-0")).toBe(2);
    await vi.waitFor(async () =>
      expect(await counter(metrics, "agent_nonce_audit_sink_delivered_total", "webhook-0")).toBe(24),
    );
    await sink.close();
    await rx.close();
  });

  it("webhook that never answers: the queue stays bounded, drops are counted, writers are never held up", async () => {
    const rx = await receiver(() => null);
    const sink = new AuditSink(webhook(rx.url, { max_queue: 10, timeout_ms: 100 }), 3, log, metrics);
    feed.subscribe((e) => sink.offer(e));
    for (let i = 0; i < 50; i++) await store.appendAudit([draft(i)]);
    expect(sink.queued).toBe(10);
    expect(await counter(metrics, "agent_nonce_audit_sink_dropped_total", "webhook-3")).toBe(40);
    await vi.waitFor(async () =>
      expect(await counter(metrics, "agent_nonce_audit_sink_retries_total", "webhook-3")).toBeGreaterThan(0),
    );
    await sink.close();
    // What was still queued at shutdown is counted as dropped too.
    expect(await counter(metrics, "agent_nonce_audit_sink_dropped_total", "webhook-3")).toBe(50);
    await rx.close();
  });

  it("file: JSON lines that re-verify as a chain", async () => {
    const file = path.join(tmpdir(), `an-sink-${randomBytes(4).toString("hex")}.jsonl`);
    const sink = new AuditSink(
      { type: "file", path: file, batch_size: 7, flush_ms: 5, max_queue: 1000 },
      1,
      log,
      metrics,
    );
    await store.appendAudit([draft(0), draft(1)]);
    feed.subscribe((e) => sink.offer(e));
    for (let i = 2; i < 30; i++) await store.appendAudit([draft(i)]);
    await sink.close();
    const lines = readFileSync(file, "utf8").trim().split("\n");
    const events = lines.map((l) => eventFromPublic(JSON.parse(l)));
    const first = events[0] as AuditEvent;
    expect(first.seq).toBe(3);
    expect(verifyChain(events, { seq: first.seq - 1, hash: first.prevHash })).toEqual({ ok: true, events: 28 });
    rmSync(file);
  });
});

describe.each(dialects)("AuditFeed ($name)", (d) => {
  it.skipIf(d.skip)(
    "hands subscribers every committed event exactly once, in seq order, under concurrency",
    async () => {
      const store = await d.create({ poolSize: 10 });
      const feed = new AuditFeed(store, createLogger("silent"), 60_000);
      await store.appendAudit([draft(0)]);
      await feed.start();
      const seen: number[] = [];
      feed.subscribe((events) => seen.push(...events.map((e) => e.seq)));
      await Promise.all(Array.from({ length: 60 }, (_, i) => store.appendAudit([draft(i), draft(i + 100)])));
      await feed.catchUp();
      expect(seen).toEqual(Array.from({ length: 120 }, (_, i) => i + 2));
      feed.close();
      await store.close();
    },
  );
});
