import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { inspect } from "node:util";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AgentNonce, AgentNonceError } from "./index.js";

/** A tiny stand-in for the control plane and gateway that speaks the API's wire shapes and records calls. */
interface Seen {
  method: string;
  url: string;
  auth: string | undefined;
  body: unknown;
}

const API_KEY = `ank_test_${randomBytes(8).toString("hex")}`;
const TOKEN = `an_test${randomBytes(12).toString("hex")}`;
let seen: Seen[] = [];
let server: http.Server;
let base: string;

function send(res: http.ServerResponse, status: number, body?: unknown): true {
  if (body === undefined) {
    res.writeHead(status).end();
    return true;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json" }).end(text);
  return true;
}

function route(s: Seen, res: http.ServerResponse): true {
  const u = new URL(s.url, "http://x");
  const key = `${s.method} ${u.pathname}`;
  if (u.pathname.startsWith("/gw/")) {
    if (s.auth !== `Bearer ${TOKEN}`) return send(res, 401, { error: { code: "nonce_missing", message: "no" } });
    return send(res, 200, { path: u.pathname, search: u.search });
  }
  if (s.auth !== `Bearer ${API_KEY}`) {
    return send(res, 401, { error: { code: "unauthenticated", message: "bad key", request_id: "req_1" } });
  }
  if (key === "POST /v1/nonces") {
    const b = s.body as Record<string, unknown>;
    return send(res, 201, {
      id: "nce_1",
      nonce: TOKEN,
      service: b.service,
      scopes: [b.scope].flat(),
      agent: b.agent,
      task: b.task ?? null,
      expires_at: "2026-01-01T00:05:00.000Z",
      max_uses: b.max_uses ?? null,
      rate: b.rate ?? null,
      gateway_url: `${base}/gw`,
    });
  }
  if (key === "GET /v1/nonces/nce_1") {
    return send(res, 200, {
      id: "nce_1",
      service: "stripe",
      scopes: ["read:customers"],
      agent: "billing-bot",
      task: "sync-42",
      status: "active",
      uses: 2,
      max_uses: 5,
      created_at: "2026-01-01T00:00:00.000Z",
      expires_at: "2026-01-01T00:05:00.000Z",
      revoked_at: null,
    });
  }
  if (key === "GET /v1/nonces/nce_missing") {
    return send(res, 404, { error: { code: "nonce_not_found", message: "no such nonce", request_id: "req_9" } });
  }
  if (key === "DELETE /v1/nonces/nce_1") return send(res, 204);
  if (key === "GET /v1/nonces") {
    const cursor = u.searchParams.get("cursor");
    const row = (id: string) => ({ id, service: "stripe", scopes: [], agent: "a", task: null, status: "active" });
    if (!cursor) return send(res, 200, { nonces: [row("nce_a"), row("nce_b")], next_cursor: "c2" });
    return send(res, 200, { nonces: [row("nce_c")], next_cursor: null });
  }
  if (key === "POST /v1/nonces/revoke") return send(res, 200, { revoked: 3 });
  if (key === "PUT /v1/services/stripe") {
    return send(res, 200, {
      name: "stripe",
      template: "stripe",
      upstream: "http://127.0.0.1:9",
      auth: { type: "bearer" },
      scopes: { "read:customers": ["GET /v1/customers"] },
      insecure_upstream: true,
      credential: { fingerprint: "fp123", updated_at: "2026-01-01T00:00:00.000Z" },
      created_at: "2026-01-01T00:00:00.000Z",
      updated_at: "2026-01-01T00:00:00.000Z",
    });
  }
  if (key === "PUT /v1/services/stripe/credential") {
    return send(res, 200, { fingerprint: "fp123", updated_at: "2026-01-01T00:00:00.000Z" });
  }
  if (key === "POST /v1/keys") {
    return send(res, 201, {
      id: "key_1",
      key: "ank_new",
      name: "bot",
      role: "issuer",
      policy: s.body && (s.body as { policy?: unknown }).policy,
    });
  }
  if (key === "GET /v1/audit") {
    return send(res, 200, {
      events: [
        {
          id: "evt_1",
          seq: 1,
          time: "2026-01-01T00:00:00.000Z",
          type: "nonce.rejected",
          actor: null,
          agent: "billing-bot",
          task: "sync-42",
          nonce_id: "nce_1",
          service: "stripe",
          scopes: ["read:customers"],
          reason: "scope_denied",
          request: { method: "POST", path: "/v1/customers", status: 403, duration_ms: 0.2, bytes: null },
          source_ip: "127.0.0.1",
          data: null,
          prev_hash: "00",
          hash: "11",
        },
      ],
      next_cursor: null,
    });
  }
  if (key === "GET /v1/broken") return send(res, 502, undefined);
  return send(res, 404, { error: { code: "not_found", message: `no route ${key}`, request_id: "req_x" } });
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const s: Seen = {
        method: req.method ?? "",
        url: req.url ?? "",
        auth: req.headers.authorization,
        body: text ? JSON.parse(text) : undefined,
      };
      seen.push(s);
      route(s, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  seen = [];
});

const client = () => new AgentNonce({ baseUrl: base, apiKey: API_KEY });

describe("nonces", () => {
  it("sends snake_case with the API key and maps the answer to camelCase", async () => {
    const n = await client().nonces.create({
      service: "stripe",
      scope: "read:customers",
      ttl: "5m",
      agent: "billing-bot",
      task: "sync-42",
      maxUses: 3,
      metadata: { order_id: "o_1" },
    });
    expect(seen[0]).toMatchObject({ method: "POST", url: "/v1/nonces", auth: `Bearer ${API_KEY}` });
    expect(seen[0]?.body).toEqual({
      service: "stripe",
      scope: "read:customers",
      ttl: "5m",
      agent: "billing-bot",
      task: "sync-42",
      max_uses: 3,
      metadata: { order_id: "o_1" },
    });
    expect(n.id).toBe("nce_1");
    expect(n.nonce).toBe(TOKEN);
    expect(n.scopes).toEqual(["read:customers"]);
    expect(n.maxUses).toBe(3);
    expect(n.expiresAt).toEqual(new Date("2026-01-01T00:05:00.000Z"));
    expect(n.gatewayUrl).toBe(`${base}/gw`);
    expect(n.gatewayHost).toBe("127.0.0.1");
    expect(n.gatewayPort).toBe(Number(new URL(base).port));
    expect(n.gatewayProtocol).toBe("http");
  });

  it("passes rate and constraints through and exposes the rate on the handle", async () => {
    const constraints = { "POST /v1/refunds": { "body.amount": { max: 5000 } } };
    const n = await client().nonces.create({
      service: "stripe",
      scope: "refunds",
      agent: "a",
      rate: "60/m",
      constraints,
    });
    expect(seen[0]?.body).toMatchObject({ rate: "60/m", constraints });
    expect(n.rate).toBe("60/m");
    expect(n.toJSON()).toMatchObject({ rate: "60/m" });
    const plain = await client().nonces.create({ service: "stripe", scope: "refunds", agent: "a" });
    expect(seen[1]?.body).not.toHaveProperty("rate");
    expect(plain.rate).toBeNull();
  });

  it("fetch goes to the gateway with the nonce as bearer, keeping caller headers", async () => {
    const n = await client().nonces.create({ service: "stripe", scope: "read:customers", agent: "a" });
    const res = await n.fetch("/v1/customers?limit=3", { headers: { "x-extra": "1", authorization: "x" } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ path: "/gw/v1/customers", search: "?limit=3" });
    expect(seen.at(-1)?.auth).toBe(`Bearer ${TOKEN}`);
  });

  it("`await using` revokes at the end of the block, once, however often revoke() is called", async () => {
    {
      await using n = await client().nonces.create({ service: "stripe", scope: "read:customers", agent: "a" });
      await n.revoke();
      await n.revoke();
      expect(n.revoked).toBe(true);
    }
    const deletes = seen.filter((s) => s.method === "DELETE");
    expect(deletes).toEqual([expect.objectContaining({ url: "/v1/nonces/nce_1", auth: `Bearer ${API_KEY}` })]);
  });

  it("`await using` revokes even when the block throws", async () => {
    await expect(
      (async () => {
        await using _n = await client().nonces.create({ service: "stripe", scope: "read:customers", agent: "a" });
        throw new Error("task failed");
      })(),
    ).rejects.toThrow("task failed");
    expect(seen.filter((s) => s.method === "DELETE")).toHaveLength(1);
  });

  it("never shows the token in inspect, JSON, toString or template strings", async () => {
    const n = await client().nonces.create({ service: "stripe", scope: "read:customers", agent: "a" });
    const renderings = [inspect(n), inspect({ n }, { depth: 5 }), JSON.stringify(n), String(n), `${n}`];
    for (const r of renderings) expect(r).not.toContain(TOKEN);
    expect(inspect(n)).toContain("nce_1");
    expect(Object.keys(n)).not.toContain("nonce");
    expect(Object.values(n)).not.toContain(TOKEN);
  });

  it("get maps status fields and dates", async () => {
    const info = await client().nonces.get("nce_1");
    expect(info).toMatchObject({
      id: "nce_1",
      status: "active",
      uses: 2,
      maxUses: 5,
      task: "sync-42",
      revokedAt: null,
    });
    expect(info.createdAt).toEqual(new Date("2026-01-01T00:00:00.000Z"));
  });

  it("list passes filters as query and listAll follows cursors", async () => {
    const page = await client().nonces.list({ task: "sync-42", status: "active", limit: 2 });
    expect(page.nonces.map((i) => i.id)).toEqual(["nce_a", "nce_b"]);
    expect(page.nextCursor).toBe("c2");
    expect(seen[0]?.url).toBe("/v1/nonces?task=sync-42&status=active&limit=2");
    const ids: string[] = [];
    for await (const i of client().nonces.iterate({ agent: "a" })) ids.push(i.id);
    expect(ids).toEqual(["nce_a", "nce_b", "nce_c"]);
    expect(seen.at(-1)?.url).toBe("/v1/nonces?agent=a&cursor=c2");
  });

  it("revokeWhere sends only the given filters and returns the count", async () => {
    expect(await client().nonces.revokeWhere({ task: "sync-42" })).toBe(3);
    expect(seen[0]?.body).toEqual({ task: "sync-42" });
  });
});

describe("errors", () => {
  it("maps the API error body to AgentNonceError with code, status and request id", async () => {
    const e = await client()
      .nonces.get("nce_missing")
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AgentNonceError);
    expect(e).toMatchObject({ code: "nonce_not_found", status: 404, requestId: "req_9", message: "no such nonce" });
  });

  it("maps a bad API key to unauthenticated", async () => {
    const an = new AgentNonce({ baseUrl: base, apiKey: "ank_wrong" });
    await expect(an.services.list()).rejects.toMatchObject({ code: "unauthenticated", status: 401 });
  });

  it("derives a code from the status when the body is not an error body", async () => {
    await expect(client().request("GET", "/v1/broken")).rejects.toMatchObject({ code: "upstream_error", status: 502 });
  });

  it("maps network failures to unavailable without the API key in the message", async () => {
    const dead = http.createServer();
    await new Promise<void>((r) => dead.listen(0, "127.0.0.1", r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const an = new AgentNonce({ baseUrl: `http://127.0.0.1:${port}`, apiKey: API_KEY });
    const e = (await an.nonces.get("nce_1").catch((x: unknown) => x)) as AgentNonceError;
    expect(e).toBeInstanceOf(AgentNonceError);
    expect(e.code).toBe("unavailable");
    expect(e.status).toBe(0);
    expect(`${e.message} ${e.stack} ${inspect(e)}`).not.toContain(API_KEY);
  });

  it("does not show the API key when the client is inspected or serialised", () => {
    const an = client();
    expect(inspect(an)).not.toContain(API_KEY);
    expect(JSON.stringify(an)).not.toContain(API_KEY);
  });
});

describe("services, keys, audit", () => {
  it("services.put sends insecure_upstream and maps the service", async () => {
    const s = await client().services.put("stripe", {
      template: "stripe",
      upstream: "http://127.0.0.1:9",
      insecureUpstream: true,
    });
    expect(seen[0]?.body).toEqual({ template: "stripe", upstream: "http://127.0.0.1:9", insecure_upstream: true });
    expect(s).toMatchObject({ name: "stripe", insecureUpstream: true, credential: { fingerprint: "fp123" } });
  });

  it("setCredential sends {secret} or {username,password}", async () => {
    const r = await client().services.setCredential("stripe", "sk_test_FAKE");
    await client().services.setCredential("stripe", { username: "u", password: "p" });
    expect(seen.map((s) => s.body)).toEqual([{ secret: "sk_test_FAKE" }, { username: "u", password: "p" }]);
    expect(r.fingerprint).toBe("fp123");
  });

  it("keys.create sends the policy document as written and returns it", async () => {
    const k = await client().keys.create({
      name: "bot",
      role: "issuer",
      policy: {
        allow: [{ service: "stripe", scopes: ["read:customers"], max_ttl: "10m", max_uses: 5 }],
        agents: ["billing-*"],
      },
    });
    expect(seen[0]?.body).toEqual({
      name: "bot",
      role: "issuer",
      policy: {
        allow: [{ service: "stripe", scopes: ["read:customers"], max_ttl: "10m", max_uses: 5 }],
        agents: ["billing-*"],
      },
    });
    expect(k.key).toBe("ank_new");
    expect(k.policy?.allow[0]).toEqual({ service: "stripe", scopes: ["read:customers"], max_ttl: "10m", max_uses: 5 });
  });

  it("audit.list sends dates as ISO and maps events", async () => {
    const since = new Date("2026-01-01T00:00:00.000Z");
    const page = await client().audit.list({ task: "sync-42", since });
    expect(seen[0]?.url).toBe(`/v1/audit?task=sync-42&since=${encodeURIComponent(since.toISOString())}`);
    expect(page.events[0]).toMatchObject({
      type: "nonce.rejected",
      nonceId: "nce_1",
      reason: "scope_denied",
      request: { method: "POST", path: "/v1/customers", status: 403, durationMs: 0.2 },
      sourceIp: "127.0.0.1",
    });
    expect(page.events[0]?.time).toEqual(since);
  });

  it("request() returns the API's JSON untouched", async () => {
    const raw = await client().request<Record<string, unknown>>("GET", "/v1/nonces/nce_1");
    expect(raw.max_uses).toBe(5);
    expect(raw.created_at).toBe("2026-01-01T00:00:00.000Z");
  });
});
