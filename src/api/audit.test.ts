import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { verifyChain } from "../core/audit-chain.js";
import { type ApiHarness, apiHarness, stripeService } from "../test/api-harness.js";

let h: ApiHarness;
beforeEach(async () => {
  h = await apiHarness();
  await stripeService(h);
});
afterEach(async () => {
  await h.close();
});

const issue = (agent: string, task: string) =>
  h.call("POST", "/v1/nonces", { body: { service: "stripe", scope: "read:customers", agent, task } });

describe("GET /v1/audit", () => {
  it("returns public, hash-chained events with management and nonce events", async () => {
    const n = (await issue("a1", "t1")).body;
    await h.call("DELETE", `/v1/nonces/${n.id}`);
    const r = await h.call("GET", "/v1/audit?limit=1000");
    expect(r.status).toBe(200);
    const types = r.body.events.map((e: { type: string }) => e.type);
    expect(types).toEqual(
      expect.arrayContaining(["service.created", "credential.set", "nonce.issued", "nonce.revoked"]),
    );
    const issued = r.body.events.find((e: { type: string }) => e.type === "nonce.issued");
    expect(issued).toMatchObject({
      nonce_id: n.id,
      agent: "a1",
      task: "t1",
      service: "stripe",
      scopes: ["read:customers"],
      actor: { type: "api_key", name: "root" },
      prev_hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      hash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(verifyChain(await h.ctx.store.scanAudit(0, 1000)).ok).toBe(true);
  });

  it("filters by agent, task, nonce, service, type and time window", async () => {
    const a = (await issue("a1", "t1")).body;
    h.clock.advance(60_000);
    const mid = new Date(h.clock.now()).toISOString();
    await issue("a2", "t2");
    const q = async (qs: string) => (await h.call("GET", `/v1/audit?${qs}`)).body.events as { type: string }[];
    expect(await q("agent=a1")).toHaveLength(1);
    expect(await q("task=t2")).toHaveLength(1);
    expect(await q(`nonce=${a.id}`)).toHaveLength(1);
    expect((await q("type=nonce.issued")).length).toBe(2);
    expect((await q("service=stripe")).length).toBeGreaterThanOrEqual(4);
    expect(await q(`since=${encodeURIComponent(mid)}`)).toHaveLength(1);
    expect((await q(`until=${encodeURIComponent(mid)}&type=nonce.issued`)).length).toBe(1);
  });

  it("paginates with next_cursor", async () => {
    for (let i = 0; i < 5; i++) await issue("p", `t${i}`);
    const ids = new Set<string>();
    let cursor: string | null = null;
    let pages = 0;
    do {
      const qs: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
      const r = await h.call("GET", `/v1/audit?agent=p&limit=2${qs}`);
      for (const e of r.body.events) ids.add(e.id);
      cursor = r.body.next_cursor;
      pages += 1;
    } while (cursor && pages < 10);
    expect(ids.size).toBe(5);
    expect(pages).toBe(3);
  });

  it.each(["type=nonce.stolen", "since=yesterday", "until=2026-13-45T00:00:00Z", "limit=0", "nonce=abc"])(
    "400 for %s",
    async (qs) => {
      const r = await h.call("GET", `/v1/audit?${qs}`);
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe("invalid_request");
    },
  );
});
