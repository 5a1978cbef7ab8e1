import { afterEach, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../test/gateway-harness.js";

/** Per-nonce rate limits, decided by the store's consume (core/rate.ts), on the injected clock (no sleeps). */

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function setup(rate: string, constraints?: Record<string, unknown>) {
  h = await startHarness();
  const { token, id } = await h.issue(["GET /v1/**"], {
    rate,
    ttlMs: 7_200_000,
    ...(constraints ? { constraints } : {}),
  });
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

  it("a rate-limited nonce is alive: no dead-nonce 401, metric or coalesced event, before or after", async () => {
    const { h, id, get } = await setup("1/m");
    expect((await get()).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await get()).status).toBe(429);
    const dead = await h.ctx.metrics.deadNoncePresentations.get();
    expect(dead.values.reduce((sum, v) => sum + v.value, 0)).toBe(0);
    h.clock.advance(60_000);
    expect((await get()).status).toBe(200);
    const events = await h.ctx.store.listAudit({ nonceId: id }, { limit: 20 });
    const decisions = events.items.filter((e) => e.type === "nonce.used" || e.type === "nonce.rejected");
    expect(decisions.map((e) => e.reason ?? e.type)).toEqual([
      "nonce.used",
      "rate_limited",
      "rate_limited",
      "rate_limited",
      "nonce.used",
    ]);
  });

  it("constraints are checked before the rate: a refused request does not spend it", async () => {
    const { h, token } = await setup("1/m", { "GET /v1/things": { "query.limit": { max: 10 } } });
    const get = (q: string) => h.request(`/v1/things?${q}`, { headers: { authorization: `Bearer ${token}` } });
    const bad = await get("limit=50");
    expect(bad.status).toBe(403);
    expect(bad.headers["x-agent-nonce-error"]).toBe("constraint_failed");
    expect((await get("limit=5")).status).toBe(200);
    expect((await get("limit=5")).status).toBe(429);
  });
});
