import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type ApiHarness, apiHarness, stripeService } from "../test/api-harness.js";

let h: ApiHarness;
beforeEach(async () => {
  h = await apiHarness();
});
afterEach(async () => {
  vi.restoreAllMocks();
  await h.close();
});

describe("error shape and mapping", () => {
  it("malformed JSON is 400 invalid_request with the request id in body and header", async () => {
    const r = await h.call("POST", "/v1/nonces", { raw: '{"service": "stripe",' });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({
      error: { code: "invalid_request", message: expect.any(String), request_id: r.headers.get("x-request-id") },
    });
  });

  it("a non-JSON content type is 400 invalid_request", async () => {
    const r = await h.call("POST", "/v1/nonces", { raw: "service=stripe", headers: { "content-type": "text/plain" } });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("invalid_request");
  });

  it("a body over 64 KiB is 413 payload_too_large", async () => {
    const big = JSON.stringify({ service: "stripe", scope: "x", agent: "a", metadata: { pad: "x".repeat(70_000) } });
    const r = await h.call("POST", "/v1/nonces", { raw: big });
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe("payload_too_large");
  });

  it("unknown routes are 404 not_found and do not echo the path", async () => {
    const r = await h.call("GET", "/v1/an_secretlookingthing");
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe("not_found");
    expect(r.text).not.toContain("secretlooking");
    expect((await h.call("GET", "/nope", { key: null })).status).toBe(404);
  });

  it("an unexpected exception is 500 internal with no stack, and is logged", async () => {
    await stripeService(h);
    const logged: unknown[] = [];
    vi.spyOn(h.ctx.log, "error").mockImplementation(((obj: unknown) => {
      logged.push(obj);
    }) as never);
    vi.spyOn(h.ctx.store, "insertNonce").mockRejectedValue(new Error("disk on fire at /var/lib/x.db"));
    const r = await h.call("POST", "/v1/nonces", { body: { service: "stripe", scope: "read:customers", agent: "a" } });
    expect(r.status).toBe(500);
    expect(r.body.error).toEqual({ code: "internal", message: "internal error", request_id: expect.any(String) });
    expect(r.text).not.toContain("disk on fire");
    expect(r.text).not.toContain("at ");
    expect(logged).toHaveLength(1);
    expect(JSON.stringify(logged[0])).toContain("disk on fire");
    expect(JSON.stringify(logged[0])).not.toContain("read:customers");
  });

  it("counts requests by route pattern and status", async () => {
    await h.call("GET", "/v1/nonces");
    await h.call("GET", "/v1/nonces", { key: null });
    const text = await h.ctx.metrics.registry.getSingleMetricAsString("agent_nonce_api_requests_total");
    expect(text).toContain('method="GET",route="/v1/nonces",status="200"');
    expect(text).toMatch(/status="401"/);
  });
});

describe("operations endpoints", () => {
  it("GET /healthz is 200 with the store up and 503 unavailable when the ping fails", async () => {
    const ok = await h.call("GET", "/healthz", { key: null });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ status: "ok", store: "sqlite" });
    vi.spyOn(h.ctx.store, "ping").mockRejectedValue(new Error("gone"));
    const down = await h.call("GET", "/healthz", { key: null });
    expect(down.status).toBe(503);
    expect(down.body.error.code).toBe("unavailable");
  });

  it("GET /metrics serves the registry in Prometheus text format", async () => {
    const r = await h.call("GET", "/metrics", { key: null });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(r.text).toContain("# TYPE agent_nonce_nonces_issued_total counter");
  });

  it("GET /openapi.json serves an OpenAPI 3.1 document with bearer auth", async () => {
    const r = await h.call("GET", "/openapi.json", { key: null });
    expect(r.status).toBe(200);
    expect(r.body.openapi).toBe("3.1.0");
    expect(r.body.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
    expect(Object.keys(r.body.paths)).toEqual(
      expect.arrayContaining(["/v1/nonces", "/v1/nonces/{id}", "/v1/nonces/revoke", "/v1/services/{name}/credential"]),
    );
  });
});
