import { afterEach, describe, expect, it } from "vitest";
import type { AppContext } from "../app/context.js";
import { createLogger } from "../app/logger.js";
import { createMetrics } from "../app/metrics.js";
import { ManualClock } from "../core/clock.js";
import type { AuditDraft } from "../core/types.js";
import { DeadNonceLog, type DeadPresentation, WINDOW_MS } from "./dead-nonce-log.js";
import { KnownDead } from "./dead-nonces.js";

/** The coalescer's windows and bounds, on a recording store and ManualClock (no sockets needed to prove them). */

function setup(maxWindows?: number) {
  const clock = new ManualClock();
  const written: AuditDraft[][] = [];
  let failing = false;
  const ctx = {
    clock,
    store: {
      appendAudit: async (drafts: AuditDraft[]) => {
        if (failing) throw new Error("disk full");
        written.push(drafts);
        return [];
      },
    },
    metrics: createMetrics({ defaultMetrics: false }),
    log: createLogger("silent"),
  } as unknown as AppContext;
  const log = new DeadNonceLog(ctx, maxWindows);
  logs.push(log);
  const present = (id: string, reason: DeadPresentation["reason"] = "nonce_revoked", data?: DeadPresentation["data"]) =>
    log.present({
      nonce: { id, agent: "a", task: null, service: "svc", scopes: ["read"] },
      reason,
      ...(data === undefined ? {} : { data }),
      now: clock.now(),
      method: "GET",
      path: "/v1/x",
      sourceIp: "127.0.0.1",
      requestId: "req_1",
    });
  const events = () => written.flat().map((d) => `${d.nonceId}:${d.reason}:${(d.data as { count: number }).count}`);
  return { clock, log, present, events, written, ctx, fail: () => (failing = true) };
}

const logs: DeadNonceLog[] = [];
afterEach(async () => {
  for (const l of logs.splice(0)) await l.close();
});

describe("DeadNonceLog", () => {
  it("writes the first presentation at once and one event per window after it, per nonce and reason", async () => {
    const { clock, log, present, events } = setup();
    await present("n1");
    expect(present("n1")).toBeUndefined(); // a repeat is only counted
    await present("n1", "nonce_exhausted"); // another reason: its own window
    await present("n2");
    expect(events()).toEqual(["n1:nonce_revoked:1", "n1:nonce_exhausted:1", "n2:nonce_revoked:1"]);
    clock.advance(WINDOW_MS - 1);
    present("n1");
    log.sweep(clock.now());
    expect(events()).toHaveLength(3); // not over yet
    clock.advance(1);
    log.sweep(clock.now());
    await log.close();
    // n1's window closed with 2 repeats; the other windows had none and wrote nothing more.
    expect(events()).toEqual([
      "n1:nonce_revoked:1",
      "n1:nonce_exhausted:1",
      "n2:nonce_revoked:1",
      "n1:nonce_revoked:2",
    ]);
  });

  it("first presentations of one turn share one append", async () => {
    const { present, written } = setup();
    await Promise.all([present("a"), present("b"), present("c")]);
    expect(written.map((b) => b.length)).toEqual([3]);
  });

  it("keeps memory bounded: when full, the oldest window is written early and dropped", async () => {
    const { log, present, events } = setup(3);
    await present("a");
    present("a");
    await present("b");
    await present("c");
    expect(log.size).toBe(3);
    await present("d"); // evicts a, whose repeat is written now
    expect(log.size).toBe(3);
    await log.close();
    expect(events()).toEqual([
      "a:nonce_revoked:1",
      "b:nonce_revoked:1",
      "c:nonce_revoked:1",
      "a:nonce_revoked:1",
      "d:nonce_revoked:1",
    ]);
    expect(log.size).toBe(0);
  });

  it("coalesces a refusal's data with its reason: one window per nonce, reason and data, the data on every event", async () => {
    const { clock, log, present, written } = setup();
    const sig = { why: "signature" };
    await present("n1", "nonce_invalid", sig);
    for (let i = 0; i < 4; i++) expect(present("n1", "nonce_invalid", { why: "signature" })).toBeUndefined();
    await present("n1", "nonce_invalid", { why: "payload_hash" }); // another kind: its own window
    await present("n1", "nonce_invalid"); // no data: its own window too
    expect(log.size).toBe(3);
    clock.advance(WINDOW_MS);
    log.sweep(clock.now());
    await log.close();
    const got = written.flat().map((d) => [d.nonceId, d.reason, d.data?.why, d.data?.count]);
    expect(got).toEqual([
      ["n1", "nonce_invalid", "signature", 1],
      ["n1", "nonce_invalid", "payload_hash", 1],
      ["n1", "nonce_invalid", undefined, 1],
      ["n1", "nonce_invalid", "signature", 4],
    ]);
  });

  it("a failed write is counted and never thrown", async () => {
    const { present, ctx, fail } = setup();
    fail();
    await expect(present("x")).resolves.toBeUndefined();
    expect((await ctx.metrics.auditWriteFailures.get()).values[0]?.value).toBe(1);
  });
});

describe("KnownDead", () => {
  it("remembers only terminal reasons, answers expiry from the cached expiry, and stays bounded", () => {
    const dead = new KnownDead(2);
    const live = { id: "n1", expiresAt: 1_000 };
    expect(dead.reasonOf(live, 999)).toBeNull();
    expect(dead.reasonOf(live, 1_000)).toBe("nonce_expired"); // exclusive, like the store
    dead.mark("n1", "nonce_revoked");
    expect(dead.reasonOf(live, 0)).toBe("nonce_revoked");
    dead.mark("n2", "nonce_expired"); // needs no entry
    expect(dead.size).toBe(1);
    dead.mark("n3", "nonce_exhausted");
    dead.reasonOf({ id: "n1", expiresAt: 1_000 }, 0); // n1 used recently: n3 is the oldest
    dead.mark("n4", "nonce_revoked");
    expect(dead.size).toBe(2);
    expect(dead.reasonOf({ id: "n3", expiresAt: 1_000 }, 0)).toBeNull();
    expect(dead.reasonOf({ id: "n1", expiresAt: 1_000 }, 0)).toBe("nonce_revoked");
  });
});
