import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isWellFormed, tokenIssuedAt, tokenKey } from "../core/tokens.js";
import { type ApiHarness, apiHarness, stripeService } from "../test/api-harness.js";

let h: ApiHarness;
let secret: string;

beforeEach(async () => {
  h = await apiHarness();
  secret = await stripeService(h);
});
afterEach(async () => {
  await h.close();
});

const issue = (body: Record<string, unknown>, key?: string) =>
  h.call("POST", "/v1/nonces", {
    body: { service: "stripe", scope: "read:customers", agent: "billing-bot", ...body },
    key,
  });

describe("POST /v1/nonces", () => {
  it("issues a nonce: 201 with the token, stored only as its hash, audited in the same call", async () => {
    const r = await issue({ task: "sync-42", ttl: "5m", max_uses: 3, metadata: { run: 1 } });
    expect(r.status).toBe(201);
    expect(r.headers.get("x-request-id")).toMatch(/^req_/);
    expect(r.body).toEqual({
      id: expect.stringMatching(/^nce_/),
      nonce: expect.stringMatching(/^an_/),
      service: "stripe",
      scopes: ["read:customers"],
      agent: "billing-bot",
      task: "sync-42",
      expires_at: new Date(h.clock.now() + 300_000).toISOString(),
      max_uses: 3,
      rate: null,
      gateway_url: "http://127.0.0.1:7071",
    });
    expect(isWellFormed(r.body.nonce, "an")).toBe(true);
    // Current format: the issuance time (the context clock) in the 7 chars after the prefix.
    expect(r.body.nonce).toHaveLength(46);
    expect(tokenIssuedAt(r.body.nonce)).toBe(h.clock.now());
    const stored = await h.ctx.store.getNonceByKey(tokenKey(r.body.nonce));
    expect(stored).toMatchObject({
      id: r.body.id,
      routes: ["GET /v1/customers", "GET /v1/customers/{id}", "GET /v1/customers/search"],
      metadata: { run: 1 },
    });
    const events = await h.ctx.store.listAudit({ nonceId: r.body.id }, { limit: 10 });
    expect(events.items.map((e) => e.type)).toEqual(["nonce.issued"]);
    expect(events.items[0]?.actor).toMatchObject({ type: "api_key", name: "root" });
  });

  it("uses the default ttl and accepts seconds, several scopes and raw routes for admins", async () => {
    const d = await issue({});
    expect(Date.parse(d.body.expires_at) - h.clock.now()).toBe(300_000);
    const s = await issue({ ttl: 30, scope: ["read:customers", "read:charges", "GET /v1/balance"] });
    expect(s.status).toBe(201);
    expect(Date.parse(s.body.expires_at) - h.clock.now()).toBe(30_000);
    expect(s.body.scopes).toEqual(["read:customers", "read:charges", "GET /v1/balance"]);
    expect(s.body.max_uses).toBeNull();
  });

  it.each([
    ["missing agent", { agent: undefined }, /agent/],
    ["empty scope list", { scope: [] }, /scope/],
    ["bad ttl", { ttl: "5 minutes" }, /ttl/],
    ["ttl over the maximum", { ttl: "2h" }, /ttl must be at most/],
    ["ttl under the minimum", { ttl: "500ms" }, /ttl must be at least/],
    ["zero max_uses", { max_uses: 0 }, /max_uses/],
    ["huge max_uses", { max_uses: 2e9 }, /max_uses/],
    ["control characters in agent", { agent: "bot\nINJECTED" }, /agent/],
    ["over-long task", { task: "t".repeat(201) }, /task/],
    ["oversized metadata", { metadata: { blob: "x".repeat(5000) } }, /metadata/],
    ["metadata not an object", { metadata: [1, 2] }, /metadata/],
    ["unknown field", { scopes: ["read:customers"] }, /scopes/],
    ["bad service name", { service: "Stripe!" }, /service/],
  ])("400 invalid_request for %s", async (_name, over, message) => {
    const r = await issue(over as Record<string, unknown>);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: "invalid_request", request_id: r.headers.get("x-request-id") });
    expect(r.body.error.message).toMatch(message);
    expect(await h.ctx.store.listNonces({}, { limit: 10 }, h.clock.now())).toMatchObject({ items: [] });
  });

  it("404 service_not_found, 422 scope_unknown, 409 credential_missing", async () => {
    expect((await issue({ service: "nope" })).body.error.code).toBe("service_not_found");
    expect((await issue({ service: "nope" })).status).toBe(404);
    const unknown = await issue({ scope: ["read:customers", "read:everything"] });
    expect(unknown.status).toBe(422);
    expect(unknown.body.error.code).toBe("scope_unknown");
    await h.call("PUT", "/v1/services/bare", {
      body: { upstream: "https://api.example.com", scopes: { r: ["GET /x"] } },
    });
    const missing = await issue({ service: "bare", scope: "r" });
    expect(missing.status).toBe(409);
    expect(missing.body.error.code).toBe("credential_missing");
    expect((await h.ctx.store.listNonces({}, { limit: 10 }, h.clock.now())).items).toHaveLength(0);
  });

  it("rejects an invalid raw route scope", async () => {
    const r = await issue({ scope: "GET /v1/../admin" });
    expect(r.status).toBe(400);
  });

  it("counts issued nonces in the metrics", async () => {
    await issue({});
    const text = await h.ctx.metrics.registry.metrics();
    expect(text).toMatch(/agent_nonce_nonces_issued_total\{service="stripe"\} 1/);
  });
});

describe("reading nonces", () => {
  it("GET /v1/nonces/{id} shows status and never the token; status follows time, uses and revocation", async () => {
    const n = (await issue({ task: "t1", ttl: "1m", max_uses: 2 })).body;
    const r = await h.call("GET", `/v1/nonces/${n.id}`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      id: n.id,
      service: "stripe",
      scopes: ["read:customers"],
      agent: "billing-bot",
      task: "t1",
      status: "active",
      uses: 0,
      max_uses: 2,
      rate: null,
      parent_id: null,
      depth: 0,
      canary: false,
      created_at: new Date(h.clock.now()).toISOString(),
      expires_at: n.expires_at,
      revoked_at: null,
    });
    h.clock.advance(60_000);
    expect((await h.call("GET", `/v1/nonces/${n.id}`)).body.status).toBe("expired");
    await h.call("DELETE", `/v1/nonces/${n.id}`);
    expect((await h.call("GET", `/v1/nonces/${n.id}`)).body).toMatchObject({
      status: "revoked",
      revoked_at: new Date(h.clock.now()).toISOString(),
    });
  });

  it("404 for an unknown id, 400 for a malformed one", async () => {
    const unknown = await h.call("GET", "/v1/nonces/nce_01ARZ3NDEKTSV4RRFFQ69G5FAV");
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe("nonce_not_found");
    expect((await h.call("GET", "/v1/nonces/garbage")).status).toBe(400);
  });

  it("lists with filters and paginates with a cursor", async () => {
    for (let i = 0; i < 5; i++) {
      await issue({ task: i < 3 ? "alpha" : "beta", agent: i % 2 ? "bot-odd" : "bot-even" });
      h.clock.advance(1);
    }
    const alpha = await h.call("GET", "/v1/nonces?task=alpha");
    expect(alpha.body.nonces).toHaveLength(3);
    expect(alpha.body.next_cursor).toBeNull();
    expect((await h.call("GET", "/v1/nonces?agent=bot-odd")).body.nonces).toHaveLength(2);
    expect((await h.call("GET", "/v1/nonces?service=stripe&status=active")).body.nonces).toHaveLength(5);
    expect((await h.call("GET", "/v1/nonces?status=revoked")).body.nonces).toHaveLength(0);

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
      const p = await h.call("GET", `/v1/nonces?limit=2${q}`);
      expect(p.status).toBe(200);
      expect(p.body.nonces.length).toBeLessThanOrEqual(2);
      seen.push(...p.body.nonces.map((n: { id: string }) => n.id));
      cursor = p.body.next_cursor;
      pages += 1;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(new Set(seen).size).toBe(5);
  });

  it.each(["limit=0", "limit=1001", "limit=abc", "status=alive"])("400 for bad query %s", async (q) => {
    const r = await h.call("GET", `/v1/nonces?${q}`);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("invalid_request");
  });
});

describe("revocation", () => {
  it("DELETE revokes one nonce (204, audited, event emitted) and is idempotent", async () => {
    const n = (await issue({})).body;
    const emitted: string[] = [];
    h.ctx.events.on("nonce.revoked", (id) => emitted.push(id));
    const r = await h.call("DELETE", `/v1/nonces/${n.id}`);
    expect(r.status).toBe(204);
    expect(r.text).toBe("");
    expect(emitted).toEqual([n.id]);
    expect((await h.call("DELETE", `/v1/nonces/${n.id}`)).status).toBe(204);
    const events = await h.ctx.store.listAudit({ nonceId: n.id, type: "nonce.revoked" }, { limit: 10 });
    expect(events.items).toHaveLength(1);
    expect((await h.call("DELETE", "/v1/nonces/nce_01ARZ3NDEKTSV4RRFFQ69G5FAV")).status).toBe(404);
  });

  it("POST /v1/nonces/revoke by task, agent and service", async () => {
    await issue({ task: "a", agent: "x" });
    await issue({ task: "a", agent: "y" });
    await issue({ task: "b", agent: "y" });
    await issue({ task: "c", agent: "z" });
    const emitted: string[] = [];
    h.ctx.events.on("nonce.revoked", (id) => emitted.push(id));
    expect((await h.call("POST", "/v1/nonces/revoke", { body: { task: "a" } })).body).toEqual({ revoked: 2 });
    expect(emitted).toHaveLength(2);
    expect((await h.call("POST", "/v1/nonces/revoke", { body: { agent: "y" } })).body).toEqual({ revoked: 1 });
    expect((await h.call("POST", "/v1/nonces/revoke", { body: { task: "a" } })).body).toEqual({ revoked: 0 });
    expect((await h.call("POST", "/v1/nonces/revoke", { body: { service: "stripe" } })).body).toEqual({ revoked: 1 });
    const active = await h.call("GET", "/v1/nonces?status=active");
    expect(active.body.nonces).toHaveLength(0);
  });

  it("POST /v1/nonces/revoke needs at least one filter", async () => {
    const r = await h.call("POST", "/v1/nonces/revoke", { body: {} });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/at least one/);
  });
});

describe("secrets never leak", () => {
  it("the token appears only in the 201 body; the credential in no response at all", async () => {
    const issued = await issue({ task: "leak-check" });
    const token: string = issued.body.nonce;
    const id: string = issued.body.id;
    h.transcript.length = 0;
    await h.call("GET", `/v1/nonces/${id}`);
    await h.call("GET", "/v1/nonces");
    await h.call("GET", "/v1/nonces?task=leak-check");
    await h.call("GET", "/v1/audit");
    await h.call("GET", "/v1/services");
    await h.call("GET", "/v1/services/stripe");
    await h.call("DELETE", `/v1/nonces/${id}`);
    await h.call("GET", "/v1/audit?type=nonce.revoked");
    await h.call("GET", "/metrics");
    const all = h.transcript.join("\n");
    expect(all).toContain(id);
    expect(all).not.toContain(token);
    expect(all).not.toContain(token.slice(3, 20));
    expect(all).not.toContain(token.slice(10, 40));
    expect(all).not.toContain(secret);
  });
});
