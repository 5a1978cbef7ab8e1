import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type ApiHarness, apiHarness, stripeService } from "../test/api-harness.js";
import { createApi } from "./app.js";
import { createApiServer } from "./server.js";

let h: ApiHarness;
let api: ReturnType<typeof createApiServer>;
let base: string;

beforeEach(async () => {
  h = await apiHarness();
  await stripeService(h);
  api = createApiServer(h.ctx);
  await new Promise<void>((resolve) => api.server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
});
afterEach(async () => {
  await api.close();
  await h.close();
});

// Ids, tokens and times differ between two issuances; everything else must be identical.
const VOLATILE = /"(id|nonce|request_id|expires_at)":"[^"]*"/g;

/** Requests the node:http fast path answered so far (agent_nonce_api_fast_path_total, all statuses). */
async function fastServed(): Promise<number> {
  const m = await h.ctx.metrics.apiFastPath.get();
  return m.values.reduce((sum, v) => sum + v.value, 0);
}

async function post(path: string, key: string, body: string) {
  const before = await fastServed();
  const res = await fetch(base + path, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body,
  });
  const text = await res.text();
  return {
    status: res.status,
    type: res.headers.get("content-type"),
    requestId: res.headers.get("x-request-id"),
    text,
    shape: text.replace(VOLATILE, '"$1":"…"'),
    /** True when the fast path answered this request, false when it fell through to Hono. */
    fast: (await fastServed()) === before + 1,
  };
}

describe("POST /v1/nonces fast path (node:http) answers exactly as the Hono route", () => {
  const valid = JSON.stringify({ service: "stripe", scope: "read:customers", agent: "fast-bot", ttl: "5m" });
  const cases: [string, string, (h: ApiHarness) => string][] = [
    ["issued", valid, (x) => x.adminKey],
    ["unauthenticated", valid, () => "ank_not_a_real_key"],
    ["malformed JSON", "{not json", (x) => x.adminKey],
    ["empty body", "", (x) => x.adminKey],
    ["schema violation", JSON.stringify({ service: "stripe", scope: [], agent: "a" }), (x) => x.adminKey],
    [
      "unknown field",
      JSON.stringify({ service: "stripe", scope: "read:customers", agent: "a", x: 1 }),
      (x) => x.adminKey,
    ],
    ["unknown service", JSON.stringify({ service: "nope", scope: "read", agent: "a" }), (x) => x.adminKey],
  ];
  for (const [name, body, key] of cases) {
    it(name, async () => {
      // The query string makes the fast path decline, so the second request goes through Hono.
      const fast = await post("/v1/nonces", key(h), body);
      const hono = await post("/v1/nonces?via=hono", key(h), body);
      // Without these the comparison below would pass just as well if both went through Hono.
      expect(fast.fast).toBe(true);
      expect(hono.fast).toBe(false);
      expect(fast.status).toBe(hono.status);
      expect(fast.type).toBe(hono.type);
      expect(fast.shape).toBe(hono.shape);
      expect(fast.requestId).toMatch(/^req_/);
      if (fast.status !== 201) expect(JSON.parse(fast.text).error.request_id).toBe(fast.requestId);
    });
  }

  it("counts its requests under the route pattern like the middleware does", async () => {
    expect((await post("/v1/nonces", h.adminKey, valid)).fast).toBe(true);
    const text = await h.ctx.metrics.registry.metrics();
    expect(text).toMatch(/agent_nonce_api_requests_total\{method="POST",route="\/v1\/nonces",status="201"\} 1/);
    expect(text).toMatch(/agent_nonce_api_fast_path_total\{status="201"\} 1/);
  });

  it("declines anything but the plain case, without touching the request", () => {
    const { fastIssue } = createApi(h.ctx);
    const res = {} as ServerResponse;
    const req = (method: string, url: string, headers: Record<string, string>) =>
      ({ method, url, headers }) as unknown as IncomingMessage;
    const json = { "content-type": "application/json", "content-length": "10" };
    expect(fastIssue(req("GET", "/v1/nonces", json), res)).toBe(false);
    expect(fastIssue(req("POST", "/v1/nonces?x=1", json), res)).toBe(false);
    expect(fastIssue(req("POST", "/v1/nonces", { ...json, "content-type": "text/plain" }), res)).toBe(false);
    expect(fastIssue(req("POST", "/v1/nonces", { "content-type": "application/json" }), res)).toBe(false);
    expect(fastIssue(req("POST", "/v1/nonces", { ...json, "content-length": "70000" }), res)).toBe(false);
  });
});
