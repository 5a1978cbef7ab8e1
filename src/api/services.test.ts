import { randomBytes } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { open } from "../core/crypto.js";
import { type ApiHarness, apiHarness } from "../test/api-harness.js";

let h: ApiHarness;
beforeEach(async () => {
  h = await apiHarness();
});
afterEach(async () => {
  await h.close();
});

describe("PUT /v1/services/{name}", () => {
  it("creates from a template, emits service.changed and audits service.created", async () => {
    const changed: string[] = [];
    h.ctx.events.on("service.changed", (n) => changed.push(n));
    const r = await h.call("PUT", "/v1/services/stripe", { body: { template: "stripe" } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      name: "stripe",
      template: "stripe",
      upstream: "https://api.stripe.com",
      auth: { type: "bearer" },
      insecure_upstream: false,
      credential: { set: false, fingerprint: null, updated_at: null },
      created_at: new Date(h.clock.now()).toISOString(),
    });
    expect(r.body.scopes["read:customers"]).toEqual([
      "GET /v1/customers",
      "GET /v1/customers/{id}",
      "GET /v1/customers/search",
    ]);
    expect(r.body.scopes["read:balance"]).toBeDefined();
    expect(r.body.scopes["write:balance"]).toBeUndefined();
    expect(changed).toEqual(["stripe"]);
    const audit = await h.ctx.store.listAudit({ service: "stripe" }, { limit: 10 });
    expect(audit.items.map((e) => e.type)).toEqual(["service.created"]);
  });

  it("explicit fields override the template and scopes merge over it; a second PUT is an update", async () => {
    await h.call("PUT", "/v1/services/stripe", { body: { template: "stripe" } });
    h.clock.advance(1000);
    const r = await h.call("PUT", "/v1/services/stripe", {
      body: {
        template: "stripe",
        upstream: "http://127.0.0.1:9999",
        insecure_upstream: true,
        scopes: { "read:customers": ["GET /v1/customers"], "custom:thing": ["POST /v1/things/{id}/**"] },
      },
    });
    expect(r.status).toBe(200);
    expect(r.body.upstream).toBe("http://127.0.0.1:9999");
    expect(r.body.scopes["read:customers"]).toEqual(["GET /v1/customers"]);
    expect(r.body.scopes["custom:thing"]).toEqual(["POST /v1/things/{id}/**"]);
    expect(r.body.scopes["read:charges"]).toBeDefined();
    expect(r.body.created_at).not.toBe(r.body.updated_at);
    const audit = await h.ctx.store.listAudit({ service: "stripe", type: "service.updated" }, { limit: 10 });
    expect(audit.items).toHaveLength(1);
  });

  it("a service without template is generic and needs an upstream", async () => {
    const r = await h.call("PUT", "/v1/services/internal", {
      body: {
        upstream: "https://api.internal.example",
        auth: { type: "header", name: "X-Api-Key" },
        scopes: { r: ["GET /**"] },
      },
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ template: null, auth: { type: "header", name: "X-Api-Key" } });
    const noUpstream = await h.call("PUT", "/v1/services/other", { body: { scopes: { r: ["GET /x"] } } });
    expect(noUpstream.status).toBe(400);
    expect(noUpstream.body.error.message).toMatch(/upstream/);
  });

  it.each([
    ["private upstream without the flag", { upstream: "https://10.1.2.3" }, /insecure_upstream/],
    ["http upstream without the flag", { upstream: "http://api.example.com" }, /insecure_upstream/],
    ["upstream with a path", { upstream: "https://api.example.com/v1" }, /origin/],
    ["upstream with userinfo", { upstream: "https://u:p@api.example.com" }, /credentials/],
    ["bad route in a scope", { upstream: "https://a.example", scopes: { r: ["GET /a/../b"] } }, /segment/],
    ["route-shaped scope name", { upstream: "https://a.example", scopes: { "GET /x": ["GET /x"] } }, /scope name/],
    ["empty scope", { upstream: "https://a.example", scopes: { r: [] } }, /scopes/],
    ["header auth without a name", { upstream: "https://a.example", auth: { type: "header" } }, /auth.name/],
    ["header auth on Host", { upstream: "https://a.example", auth: { type: "header", name: "Host" } }, /auth.name/],
    ["header name with _", { upstream: "https://a.example", auth: { type: "header", name: "x_key" } }, /auth.name/],
    ["query auth without a name", { upstream: "https://a.example", auth: { type: "query" } }, /auth.name/],
    ["unknown auth type", { upstream: "https://a.example", auth: { type: "oauth" } }, /auth.type/],
    ["unknown field", { upstream: "https://a.example", secret: "x" }, /secret/],
  ])("400 for %s", async (_n, body, message) => {
    const r = await h.call("PUT", "/v1/services/svc", { body });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("invalid_request");
    expect(r.body.error.message).toMatch(message);
    expect(await h.ctx.store.getService("svc")).toBeUndefined();
  });

  it("404 template_not_found and 400 for a bad name", async () => {
    const t = await h.call("PUT", "/v1/services/x", { body: { template: "nope" } });
    expect(t.status).toBe(404);
    expect(t.body.error.code).toBe("template_not_found");
    expect((await h.call("PUT", "/v1/services/Bad_Name", { body: { template: "stripe" } })).status).toBe(400);
    expect((await h.call("PUT", `/v1/services/${"a".repeat(64)}`, { body: { template: "stripe" } })).status).toBe(400);
  });
});

describe("reading and deleting services", () => {
  it("lists and gets; delete revokes live nonces and audits", async () => {
    await h.call("PUT", "/v1/services/stripe", { body: { template: "stripe" } });
    await h.call("PUT", "/v1/services/github", { body: { template: "github" } });
    await h.call("PUT", "/v1/services/stripe/credential", { body: { secret: "sk_test_FAKE_x" } });
    const n = await h.call("POST", "/v1/nonces", { body: { service: "stripe", scope: "read:balance", agent: "a" } });
    const list = await h.call("GET", "/v1/services");
    expect(list.body.services.map((s: { name: string }) => s.name).sort()).toEqual(["github", "stripe"]);
    expect((await h.call("GET", "/v1/services/github")).body.template).toBe("github");
    const changed: string[] = [];
    h.ctx.events.on("service.changed", (s) => changed.push(s));
    expect((await h.call("DELETE", "/v1/services/stripe")).status).toBe(204);
    expect(changed).toEqual(["stripe"]);
    expect((await h.call("GET", "/v1/services/stripe")).status).toBe(404);
    expect((await h.call("DELETE", "/v1/services/stripe")).body.error.code).toBe("service_not_found");
    expect((await h.call("GET", `/v1/nonces/${n.body.id}`)).body.status).toBe("revoked");
    const audit = await h.ctx.store.listAudit({ type: "service.deleted" }, { limit: 10 });
    expect(audit.items).toHaveLength(1);
  });

  it("GET /v1/templates lists templates with their scopes and sources", async () => {
    const r = await h.call("GET", "/v1/templates");
    expect(r.status).toBe(200);
    const names = r.body.templates.map((t: { name: string }) => t.name);
    expect(names).toEqual(expect.arrayContaining(["stripe", "github", "slack", "openai"]));
    const stripe = r.body.templates.find((t: { name: string }) => t.name === "stripe");
    expect(stripe.source).toMatch(/stripe\.com/);
    expect(stripe.scopes["write:customers"]).toContain("POST /v1/customers");
  });
});

describe("PUT /v1/services/{name}/credential", () => {
  it("seals the secret, returns only a fingerprint and never shows it again", async () => {
    await h.call("PUT", "/v1/services/stripe", { body: { template: "stripe" } });
    const secret = `sk_test_FAKE_${randomBytes(8).toString("hex")}`;
    const changed: string[] = [];
    h.ctx.events.on("service.changed", (s) => changed.push(s));
    const r = await h.call("PUT", "/v1/services/stripe/credential", { body: { secret } });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      fingerprint: expect.stringMatching(/^sha256:[0-9a-f]{16}$/),
      updated_at: expect.any(String),
    });
    expect(changed).toEqual(["stripe"]);
    const stored = await h.ctx.store.getService("stripe");
    expect(stored?.credential?.includes(Buffer.from(secret))).toBe(false);
    expect(open(h.ctx.masterKeys, "stripe", stored?.credential as Buffer).toString()).toBe(secret);
    const view = await h.call("GET", "/v1/services/stripe");
    expect(view.body.credential).toEqual({ set: true, fingerprint: r.body.fingerprint, updated_at: r.body.updated_at });
    const audit = await h.ctx.store.listAudit({ type: "credential.set" }, { limit: 10 });
    expect(audit.items[0]?.data).toEqual({ fingerprint: r.body.fingerprint });
    await h.call("GET", "/v1/services");
    await h.call("GET", "/v1/audit");
    expect(h.transcript.join("\n")).not.toContain(secret);
  });

  it("basic-auth services take {username, password}, sealed as JSON", async () => {
    await h.call("PUT", "/v1/services/legacy", {
      body: { upstream: "https://legacy.example", auth: { type: "basic" }, scopes: { r: ["GET /**"] } },
    });
    const wrong = await h.call("PUT", "/v1/services/legacy/credential", { body: { secret: "s3cret-FAKE" } });
    expect(wrong.status).toBe(400);
    const r = await h.call("PUT", "/v1/services/legacy/credential", { body: { username: "svc", password: "pw-FAKE" } });
    expect(r.status).toBe(200);
    const stored = await h.ctx.store.getService("legacy");
    expect(JSON.parse(open(h.ctx.masterKeys, "legacy", stored?.credential as Buffer).toString())).toEqual({
      username: "svc",
      password: "pw-FAKE",
    });
  });

  it("rejects bad credentials without echoing them", async () => {
    await h.call("PUT", "/v1/services/stripe", { body: { template: "stripe" } });
    const secretish = "sk_test_FAKE_injected";
    for (const body of [
      { secret: `${secretish}\r\nX-Evil: 1` },
      { secret: "" },
      { secret: 42 },
      { secret: secretish, extra: secretish },
      { username: "a", password: secretish },
    ]) {
      const r = await h.call("PUT", "/v1/services/stripe/credential", { body });
      expect(r.status).toBe(400);
      expect(r.text).not.toContain(secretish);
    }
    const missing = await h.call("PUT", "/v1/services/nope/credential", { body: { secret: secretish } });
    expect(missing.status).toBe(404);
    expect(missing.text).not.toContain(secretish);
  });
});
