import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { IssuerPolicy } from "../core/types.js";
import { type ApiHarness, apiHarness, stripeService } from "../test/api-harness.js";

let h: ApiHarness;
let issuer: { id: string; key: string };
let auditor: { id: string; key: string };

const policy: IssuerPolicy = {
  allow: [{ service: "stripe", scopes: ["read:customers", "read:charges"], max_ttl: "10m", max_uses: 20 }],
  agents: ["billing-*"],
};

beforeEach(async () => {
  h = await apiHarness();
  await stripeService(h);
  await stripeService(h, "stripe2");
  issuer = await h.createKey("issuer", policy, "orchestrator");
  auditor = await h.createKey("auditor", undefined, "secops");
});
afterEach(async () => {
  await h.close();
});

const issueAs = (key: string, over: Record<string, unknown> = {}) =>
  h.call("POST", "/v1/nonces", {
    key,
    body: { service: "stripe", scope: "read:customers", agent: "billing-bot", task: "t", ...over },
  });

describe("authentication", () => {
  it.each([
    ["no header", null, undefined],
    ["not bearer", null, { authorization: "Basic YWJjOmRlZg==" }],
    ["wrong prefix", "an_000000000000000000000000000000000000", undefined],
    ["bad checksum", "ank_000000000000000000000000000000000000", undefined],
  ])("401 for %s, without echoing the token", async (_n, key, headers) => {
    const r = await h.call("GET", "/v1/nonces", { key: key ?? null, headers });
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe("unauthenticated");
    if (key) expect(r.text).not.toContain(key);
  });

  it("401 for a well-formed unknown key and for a revoked key", async () => {
    const fresh = await h.createKey("admin");
    const other = await h.call("POST", "/v1/keys", { body: { name: "tmp", role: "admin" } });
    expect((await h.call("GET", "/v1/nonces", { key: other.body.key })).status).toBe(200);
    await h.call("DELETE", `/v1/keys/${other.body.id}`, { key: fresh.key });
    const r = await h.call("GET", "/v1/nonces", { key: other.body.key });
    expect(r.status).toBe(401);
    expect(r.text).not.toContain(other.body.key);
    const unknown = `ank_${"A".repeat(36)}`;
    expect((await h.call("GET", "/v1/nonces", { key: unknown })).status).toBe(401);
  });
});

describe("issuer policy", () => {
  it("issues within policy, defaulting max_uses to the policy maximum", async () => {
    const r = await issueAs(issuer.key);
    expect(r.status).toBe(201);
    expect(r.body.max_uses).toBe(20);
  });

  it("an omitted ttl is capped at the policy's max_ttl", async () => {
    const short = await h.createKey("issuer", { allow: [{ service: "stripe", scopes: ["*"], max_ttl: "1m" }] });
    const r = await issueAs(short.key);
    expect(r.status).toBe(201);
    expect(Date.parse(r.body.expires_at) - h.clock.now()).toBe(60_000);
  });

  it.each([
    ["service_not_allowed", { service: "stripe2" }],
    ["scope_not_allowed", { scope: ["read:customers", "write:customers"] }],
    ["ttl_exceeds_policy", { ttl: "11m" }],
    ["max_uses_exceeds_policy", { max_uses: 21 }],
    ["agent_not_allowed", { agent: "support-bot" }],
    ["routes_not_allowed", { scope: "GET /v1/customers" }],
  ])("403 %s: nothing issued, an issue_denied event with the reason", async (reason, over) => {
    const r = await issueAs(issuer.key, over);
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe("forbidden");
    expect((await h.ctx.store.listNonces({}, { limit: 10 }, h.clock.now())).items).toHaveLength(0);
    const denied = await h.ctx.store.listAudit({ type: "nonce.issue_denied" }, { limit: 10 });
    expect(denied.items).toHaveLength(1);
    expect(denied.items[0]).toMatchObject({
      reason,
      agent: (over as { agent?: string }).agent ?? "billing-bot",
      task: "t",
      actor: { type: "api_key", id: issuer.id, name: "orchestrator" },
    });
    expect(await h.ctx.metrics.registry.getSingleMetricAsString("agent_nonce_nonce_issue_denied_total")).toContain(
      `reason="${reason}"`,
    );
  });

  it("an issuer reads and revokes only its own nonces", async () => {
    const mine = (await issueAs(issuer.key)).body;
    const admins = (await issueAs(h.adminKey, { task: "t" })).body;
    expect((await h.call("GET", `/v1/nonces/${mine.id}`, { key: issuer.key })).status).toBe(200);
    expect((await h.call("GET", `/v1/nonces/${admins.id}`, { key: issuer.key })).status).toBe(404);
    const list = await h.call("GET", "/v1/nonces", { key: issuer.key });
    expect(list.body.nonces.map((n: { id: string }) => n.id)).toEqual([mine.id]);
    expect((await h.call("DELETE", `/v1/nonces/${admins.id}`, { key: issuer.key })).status).toBe(404);
    const bulk = await h.call("POST", "/v1/nonces/revoke", { key: issuer.key, body: { task: "t" } });
    expect(bulk.body).toEqual({ revoked: 1 });
    expect((await h.call("GET", `/v1/nonces/${admins.id}`)).body.status).toBe("active");
  });

  it("an issuer sees only the audit events of its own nonces and only services in its policy", async () => {
    const mine = (await issueAs(issuer.key)).body;
    await issueAs(h.adminKey);
    const audit = await h.call("GET", "/v1/audit", { key: issuer.key });
    expect(audit.status).toBe(200);
    expect(audit.body.events.length).toBeGreaterThan(0);
    for (const e of audit.body.events) expect(e.nonce_id).toBe(mine.id);
    const services = await h.call("GET", "/v1/services", { key: issuer.key });
    expect(services.body.services.map((s: { name: string }) => s.name)).toEqual(["stripe"]);
    expect((await h.call("GET", "/v1/services/stripe2", { key: issuer.key })).status).toBe(404);
  });

  it.each([
    ["PUT", "/v1/services/x", { template: "stripe" }],
    ["DELETE", "/v1/services/stripe", undefined],
    ["PUT", "/v1/services/stripe/credential", { secret: "sk_test_FAKE_1" }],
    ["POST", "/v1/keys", { name: "k", role: "admin" }],
    ["GET", "/v1/keys", undefined],
    ["DELETE", "/v1/keys/key_01ARZ3NDEKTSV4RRFFQ69G5FAV", undefined],
  ])("an issuer may not %s %s (403)", async (method, path, body) => {
    const r = await h.call(method, path, { key: issuer.key, body });
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe("forbidden");
  });
});

describe("auditor", () => {
  it("reads audit and nonce status", async () => {
    const n = (await issueAs(h.adminKey)).body;
    expect((await h.call("GET", "/v1/audit", { key: auditor.key })).status).toBe(200);
    expect((await h.call("GET", "/v1/nonces", { key: auditor.key })).body.nonces).toHaveLength(1);
    expect((await h.call("GET", `/v1/nonces/${n.id}`, { key: auditor.key })).status).toBe(200);
  });

  it.each([
    ["POST", "/v1/nonces", { service: "stripe", scope: "read:customers", agent: "a" }],
    ["POST", "/v1/nonces/revoke", { task: "t" }],
    ["DELETE", "/v1/nonces/nce_01ARZ3NDEKTSV4RRFFQ69G5FAV", undefined],
    ["GET", "/v1/services", undefined],
    ["GET", "/v1/services/stripe", undefined],
    ["PUT", "/v1/services/x", { template: "stripe" }],
    ["DELETE", "/v1/services/stripe", undefined],
    ["PUT", "/v1/services/stripe/credential", { secret: "sk_test_FAKE_1" }],
    ["GET", "/v1/templates", undefined],
    ["POST", "/v1/keys", { name: "k", role: "admin" }],
    ["GET", "/v1/keys", undefined],
    ["DELETE", "/v1/keys/key_01ARZ3NDEKTSV4RRFFQ69G5FAV", undefined],
  ])("may not %s %s (403)", async (method, path, body) => {
    const r = await h.call(method, path, { key: auditor.key, body });
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe("forbidden");
  });
});
