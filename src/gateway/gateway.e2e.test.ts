import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { newId } from "../core/ids.js";
import { generateToken } from "../core/tokens.js";
import { type Harness, startHarness } from "../test/gateway-harness.js";

/** End-to-end through real sockets: agent → gateway → fake upstream, real SQLite store. */

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.close();
});

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

async function events(type?: string) {
  const page = await h.ctx.store.listAudit(type ? { type: type as never } : {}, { limit: 100 });
  return page.items;
}

describe("gateway: the core promise", () => {
  it("upstream receives the real key and never the nonce; the agent never receives the key", async () => {
    const { token } = await h.issue(["GET /v1/customers"]);
    const r = await h.request("/v1/customers?limit=3", { headers: bearer(token) });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text)).toEqual({ method: "GET", path: "/v1/customers" });
    expect(h.upstream.requests).toHaveLength(1);
    const got = h.upstream.requests[0]!;
    expect(got.url).toBe("/v1/customers?limit=3");
    expect(got.headers.authorization).toBe(`Bearer ${h.secret}`);
    const raw = got.rawHeaders.join("\n");
    expect(raw).not.toContain(token);
    expect(got.rawHeaders.filter((x) => x.toLowerCase() === "authorization")).toHaveLength(1);
    expect(r.text).not.toContain(h.secret);
    expect(JSON.stringify(r.headers)).not.toContain(h.secret);
  });

  it.each([
    ["Bearer", (t: string) => ({ authorization: `Bearer ${t}` })],
    ["token", (t: string) => ({ authorization: `token ${t}` })],
    ["Basic", (t: string) => ({ authorization: `Basic ${Buffer.from(`${t}:`).toString("base64")}` })],
    ["X-Agent-Nonce", (t: string) => ({ "x-agent-nonce": t })],
  ])("accepts the nonce via %s and strips the carrier", async (_name, hdr) => {
    const { token } = await h.issue(["GET /v1/x"]);
    const r = await h.request("/v1/x", { headers: hdr(token) });
    expect(r.status).toBe(200);
    const got = h.upstream.requests[0]!;
    expect(got.headers.authorization).toBe(`Bearer ${h.secret}`);
    expect(got.headers["x-agent-nonce"]).toBeUndefined();
    expect(got.rawHeaders.join("\n")).not.toContain(token);
  });

  it("Host is the upstream's host, not the client's", async () => {
    const { token } = await h.issue(["GET /v1/x"]);
    await h.request("/v1/x", { headers: { ...bearer(token), host: "evil.example" } });
    expect(h.upstream.requests[0]!.headers.host).toBe(`127.0.0.1:${h.upstream.port}`);
  });

  it("writes nonce.used (in the consume transaction) and nonce.completed with status and bytes", async () => {
    const { token, id } = await h.issue(["GET /v1/x"]);
    await h.request("/v1/x?secret_query=1", { headers: bearer(token) });
    const used = (await events("nonce.used"))[0]!;
    expect(used).toMatchObject({ nonceId: id, agent: "test-agent", task: "task-1", service: h.service });
    expect(used.actor).toEqual({ type: "nonce", id, name: "test-agent" });
    expect(used.request).toMatchObject({ method: "GET", path: "/v1/x", status: null });
    // completion is written off the response path: wait for it without sleeping on time
    await expect.poll(async () => (await events("nonce.completed")).length).toBe(1);
    const done = (await events("nonce.completed"))[0]!;
    expect(done.request).toMatchObject({ method: "GET", path: "/v1/x", status: 200 });
    expect(done.request!.bytes).toBeGreaterThan(0);
    const all = JSON.stringify(await events());
    expect(all).not.toContain(token);
    expect(all).not.toContain(h.secret);
    expect(all).not.toContain("secret_query");
  });
});

describe("gateway: nonce rejections never reach the upstream", () => {
  it("401 nonce_missing", async () => {
    const r = await h.request("/v1/x");
    expect(r.status).toBe(401);
    expect(r.headers["x-agent-nonce-error"]).toBe("nonce_missing");
    expect(JSON.parse(r.text).error).toMatchObject({ code: "nonce_missing" });
    expect(JSON.parse(r.text).error.request_id).toMatch(/^req_/);
    expect(h.upstream.requests).toHaveLength(0);
  });

  it("401 nonce_invalid for a malformed token without a store lookup", async () => {
    let lookups = 0;
    const orig = h.ctx.store.getNonceByKey.bind(h.ctx.store);
    h.ctx.store.getNonceByKey = async (x) => {
      lookups++;
      return orig(x);
    };
    const good = generateToken("an", h.clock.now());
    const bad = `${good.slice(0, -1)}${good.endsWith("a") ? "b" : "a"}`;
    for (const t of [bad, "an_short", "sk_live_whatever"]) {
      const r = await h.request("/v1/x", { headers: bearer(t) });
      expect(r.status).toBe(401);
      expect(r.headers["x-agent-nonce-error"]).toBe("nonce_invalid");
    }
    expect(lookups).toBe(0);
    // a well-formed but unknown token is looked up, and is invalid too
    const r = await h.request("/v1/x", { headers: bearer(good) });
    expect(r.headers["x-agent-nonce-error"]).toBe("nonce_invalid");
    expect(lookups).toBe(1);
    expect(h.upstream.requests).toHaveLength(0);
  });

  it("401 nonce_expired once the clock passes expiry (ManualClock)", async () => {
    const { token } = await h.issue(["GET /v1/x"], { ttlMs: 60_000 });
    expect((await h.request("/v1/x", { headers: bearer(token) })).status).toBe(200);
    h.clock.advance(60_000);
    const r = await h.request("/v1/x", { headers: bearer(token) });
    expect(r.status).toBe(401);
    expect(r.headers["x-agent-nonce-error"]).toBe("nonce_expired");
    expect(h.upstream.requests).toHaveLength(1);
  });

  it("401 nonce_revoked right after revocation, even with the nonce cached", async () => {
    const { token, id } = await h.issue(["GET /v1/x"]);
    expect((await h.request("/v1/x", { headers: bearer(token) })).status).toBe(200);
    await h.ctx.store.revokeNonce(id, h.clock.now(), (n) => ({
      id: newId("evt", h.clock.now()),
      time: h.clock.now(),
      type: "nonce.revoked",
      actor: null,
      agent: n.agent,
      task: n.task,
      nonceId: n.id,
      service: n.service,
      scopes: n.scopes,
      reason: null,
      request: null,
      sourceIp: null,
      data: null,
    }));
    const r = await h.request("/v1/x", { headers: bearer(token) });
    expect(r.status).toBe(401);
    expect(r.headers["x-agent-nonce-error"]).toBe("nonce_revoked");
    expect(h.upstream.requests).toHaveLength(1);
    const rejected = await events("nonce.rejected");
    expect(rejected.at(-1)).toMatchObject({ reason: "nonce_revoked", nonceId: id });
  });

  it("401 nonce_exhausted after max_uses, and concurrent requests never exceed it", async () => {
    const { token } = await h.issue(["GET /v1/x"], { maxUses: 3 });
    const results = await Promise.all(Array.from({ length: 8 }, () => h.request("/v1/x", { headers: bearer(token) })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(3);
    const rest = results.filter((r) => r.status !== 200);
    expect(rest.every((r) => r.headers["x-agent-nonce-error"] === "nonce_exhausted")).toBe(true);
    expect(h.upstream.requests).toHaveLength(3);
  });

  it("403 scope_denied: not forwarded, no use counted, audited as nonce.rejected", async () => {
    const { token, id } = await h.issue(["GET /v1/customers/{id}"], { maxUses: 1 });
    for (const [method, path] of [
      ["POST", "/v1/customers/cus_1"],
      ["GET", "/v1/customers"],
      ["GET", "/v1/customers/cus_1/secrets"],
      ["DELETE", "/v1/customers/cus_1"],
    ] as const) {
      const r = await h.request(path, { method, headers: bearer(token) });
      expect(r.status).toBe(403);
      expect(r.headers["x-agent-nonce-error"]).toBe("scope_denied");
    }
    expect(h.upstream.requests).toHaveLength(0);
    expect((await h.ctx.store.getNonce(id))!.uses).toBe(0);
    const rejected = await events("nonce.rejected");
    expect(rejected).toHaveLength(4);
    expect(rejected[0]).toMatchObject({ reason: "scope_denied", nonceId: id, agent: "test-agent" });
    // the single use is still there
    expect((await h.request("/v1/customers/cus_1", { headers: bearer(token) })).status).toBe(200);
    expect((await h.request("/v1/customers/cus_1", { headers: bearer(token) })).status).toBe(401);
  });

  it("HEAD is allowed by a GET scope", async () => {
    const { token } = await h.issue(["GET /v1/x"]);
    expect((await h.request("/v1/x", { method: "HEAD", headers: bearer(token) })).status).toBe(200);
    expect(h.upstream.requests[0]!.method).toBe("HEAD");
  });

  it("409 credential_missing before a use is counted", async () => {
    await h.putService("nocred", h.upstream.url, { type: "bearer" });
    const { token, id } = await h.issue(["GET /v1/x"], { service: "nocred" });
    const r = await h.request("/v1/x", { headers: bearer(token) });
    expect(r.status).toBe(409);
    expect(r.headers["x-agent-nonce-error"]).toBe("credential_missing");
    expect((await h.ctx.store.getNonce(id))!.uses).toBe(0);
    expect(h.upstream.requests).toHaveLength(0);
  });
});

describe("SECURITY.md rule 2: canonical path authorised and forwarded", () => {
  it("/%61dmin is authorised as /admin and forwarded as /admin", async () => {
    const { token } = await h.issue(["GET /admin"]);
    const r = await h.request("/%61dmin", { headers: bearer(token) });
    expect(r.status).toBe(200);
    expect(h.upstream.requests[0]!.url).toBe("/admin");
  });

  it("a scope on /public cannot reach /admin through encoded or dot tricks", async () => {
    const { token } = await h.issue(["GET /public/**"]);
    for (const p of [
      "/public/..%2Fadmin",
      "/public/%2e%2e/admin",
      "/public/../admin",
      "/public//admin",
      "/public;/admin",
      "/public/%5C..%5Cadmin",
    ]) {
      const r = await h.request(p, { headers: bearer(token) });
      expect(r.status, p).toBe(400);
      expect(r.headers["x-agent-nonce-error"]).toBe("bad_request");
    }
    expect(h.upstream.requests).toHaveLength(0);
  });
});

describe("SECURITY.md rule 10: fail closed", () => {
  it("503 unavailable and nothing forwarded when the store is down", async () => {
    const { token } = await h.issue(["GET /v1/x"]);
    await h.ctx.store.close();
    const r = await h.request("/v1/x", { headers: bearer(token) });
    expect(r.status).toBe(503);
    expect(r.headers["x-agent-nonce-error"]).toBe("unavailable");
    expect(h.upstream.requests).toHaveLength(0);
  });

  it("503 when the consume/audit write fails after a cached lookup, and the credential is not injected", async () => {
    const { token } = await h.issue(["GET /v1/x"]);
    expect((await h.request("/v1/x", { headers: bearer(token) })).status).toBe(200);
    h.ctx.store.consumeNonce = async () => {
      throw new Error("disk full");
    };
    const r = await h.request("/v1/x", { headers: bearer(token) });
    expect(r.status).toBe(503);
    expect(r.text).not.toContain("disk full");
    expect(h.upstream.requests).toHaveLength(1);
  });
});
