import { afterEach, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../test/gateway-harness.js";
import { RateLimiter } from "./rate-limiter.js";

/** Per-nonce rate limits: GCRA in process, on the injected clock (ManualClock: no sleeps). */

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function setup(rate: string) {
  h = await startHarness();
  const { token, id } = await h.issue(["GET /v1/**"], { rate, ttlMs: 7_200_000 });
  const get = () => (h as Harness).request("/v1/things", { headers: { authorization: `Bearer ${token}` } });
  const uses = async () => (await (h as Harness).ctx.store.getNonce(id))?.uses;
  return { h, token, id, get, uses };
}

describe("gateway rate limits", () => {
  it("admits the burst, then 429 rate_limited with Retry-After, no use counted, audited; refills with time", async () => {
    const { h, id, get, uses } = await setup("2/s");
    expect((await get()).status).toBe(200);
    expect((await get()).status).toBe(200);
    const over = await get();
    expect(over.status).toBe(429);
    expect(over.headers["x-agent-nonce-error"]).toBe("rate_limited");
    expect(over.headers["retry-after"]).toBe("1");
    expect(h.upstream.requests).toHaveLength(2);
    expect(await uses()).toBe(2);
    const rejected = await h.ctx.store.listAudit({ nonceId: id, type: "nonce.rejected" }, { limit: 10 });
    expect(rejected.items.map((e) => e.reason)).toEqual(["rate_limited"]);

    h.clock.advance(499);
    expect((await get()).status).toBe(429);
    h.clock.advance(1);
    expect((await get()).status).toBe(200);
    expect((await get()).status).toBe(429);
    expect(await uses()).toBe(3);
  });

  it("Retry-After is in whole seconds until the next request would be admitted", async () => {
    const { h, get } = await setup("1/h");
    expect((await get()).status).toBe(200);
    expect((await get()).headers["retry-after"]).toBe("3600");
    h.clock.advance(3_600_000 - 1_500);
    expect((await get()).headers["retry-after"]).toBe("2");
    h.clock.advance(1_500);
    expect((await get()).status).toBe(200);
  });

  it("limits each nonce on its own", async () => {
    const { h, get } = await setup("1/m");
    const other = await h.issue(["GET /v1/**"], { rate: "1/m" });
    expect((await get()).status).toBe(200);
    expect((await get()).status).toBe(429);
    const r = await h.request("/v1/things", { headers: { authorization: `Bearer ${other.token}` } });
    expect(r.status).toBe(200);
  });
});

describe("RateLimiter", () => {
  const rate = { count: 3, periodMs: 1_000 };

  it("is a GCRA: count at once, then one every period/count", () => {
    const l = new RateLimiter();
    const t = 1_000_000;
    expect([0, 0, 0].map(() => l.take("a", rate, t + 60_000, t))).toEqual([0, 0, 0]);
    expect(l.take("a", rate, t + 60_000, t)).toBeCloseTo(1000 / 3);
    expect(l.take("a", rate, t + 60_000, t + 333)).toBeGreaterThan(0);
    expect(l.take("a", rate, t + 60_000, t + 334)).toBe(0);
  });

  it("keeps memory bounded: idle and expired entries are swept", () => {
    const l = new RateLimiter();
    const t = 5_000_000;
    l.take("first", rate, t + 1_000_000, t); // the first call sweeps (nothing yet) and sets the sweep time
    for (let i = 0; i < 1_000; i++) l.take(`n${i}`, rate, t + 500, t);
    expect(l.size).toBe(1_001);
    // 10 s later every bucket is full again (and the 1 000 nonces expired): all entries go.
    l.take("x", { count: 1, periodMs: 3_600_000 }, t + 7_200_000, t + 10_000);
    expect(l.size).toBe(1);
  });
});
