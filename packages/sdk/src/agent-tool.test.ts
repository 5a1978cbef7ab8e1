import { describe, expect, it } from "vitest";
import { describeRequestTool, fetchNonceView, formatToolResponse, gatewayRequest, toolName } from "./agent-tool.js";
import { AgentNonceError } from "./errors.js";

/** The shared tool-call helpers, against a recording fetch (the real-gateway paths are in the e2e tests). */

const NONCE = `an_${"x".repeat(30)}`;

function recorder(respond: (url: string, init: RequestInit) => Response) {
  const calls: Array<{ url: string; init: RequestInit }> = [];
  const fetch = async (input: string | URL, init: RequestInit = {}) => {
    calls.push({ url: String(input), init });
    return respond(String(input), init);
  };
  return { calls, target: { gatewayUrl: "http://127.0.0.1:7071", nonce: NONCE, fetch } };
}

describe("gatewayRequest", () => {
  it("sends the nonce as a bearer token to the gateway, query merged, JSON body, credential headers dropped", async () => {
    const { calls, target } = recorder(
      () => new Response('{"ok":true}', { headers: { "content-type": "application/json" } }),
    );
    const r = await gatewayRequest(target, {
      method: "post",
      path: "/v1/things?a=1",
      query: { b: 2, c: [true, "x"] },
      body: { n: 1 },
      headers: {
        Authorization: "Bearer sk_live_nope",
        Cookie: "s=1",
        "X-Agent-Nonce": "an_other",
        "Idempotency-Key": "k1",
      },
    });
    expect(r).toEqual({
      status: 200,
      contentType: "application/json",
      body: '{"ok":true}',
      truncated: false,
      error: null,
    });
    expect(calls).toHaveLength(1);
    const { url, init } = calls[0]!;
    expect(url).toBe("http://127.0.0.1:7071/v1/things?a=1&b=2&c=true&c=x");
    expect(init.method).toBe("POST");
    expect(init.redirect).toBe("manual");
    const h = new Headers(init.headers);
    expect(h.get("authorization")).toBe(`Bearer ${NONCE}`);
    expect(h.get("cookie")).toBeNull();
    expect(h.get("x-agent-nonce")).toBeNull();
    expect(h.get("idempotency-key")).toBe("k1");
    expect(h.get("content-type")).toBe("application/json");
    expect(init.body).toBe('{"n":1}');
  });

  it.each(["//evil.example/x", "http://evil.example/", "v1/x", "/a\\b", "/a#b", "/a b"])(
    "refuses path %j before sending anything",
    async (path) => {
      const { calls, target } = recorder(() => new Response("{}"));
      const r = await gatewayRequest(target, { method: "GET", path });
      expect(r.error?.code).toBe("invalid_request");
      expect(r.status).toBe(0);
      expect(calls).toHaveLength(0);
    },
  );

  it("refuses an unknown method and a GET body without sending", async () => {
    const { calls, target } = recorder(() => new Response("{}"));
    expect((await gatewayRequest(target, { method: "TRACE", path: "/x" })).error?.code).toBe("invalid_request");
    expect((await gatewayRequest(target, { method: "GET", path: "/x", body: "y" })).error?.code).toBe(
      "invalid_request",
    );
    expect(calls).toHaveLength(0);
  });

  it("a gateway refusal is a value with its code and message", async () => {
    const { target } = recorder(
      () =>
        new Response(
          '{"error":{"code":"scope_denied","message":"POST /x is outside this nonce\'s scope","request_id":"req_1"}}',
          {
            status: 403,
            headers: { "x-agent-nonce-error": "scope_denied", "content-type": "application/json" },
          },
        ),
    );
    const r = await gatewayRequest(target, { method: "POST", path: "/x" });
    expect(r.error).toEqual({ code: "scope_denied", message: "POST /x is outside this nonce's scope" });
    expect(formatToolResponse(r)).toBe("scope_denied: POST /x is outside this nonce's scope (HTTP 403)");
  });

  it("an unreachable gateway is a value, not an exception", async () => {
    const target = {
      gatewayUrl: "http://127.0.0.1:7071",
      nonce: NONCE,
      fetch: () => Promise.reject(new TypeError("fetch failed")),
    };
    expect((await gatewayRequest(target, { method: "GET", path: "/x" })).error?.code).toBe("unavailable");
  });

  it("redacts the nonce from a body, cuts long bodies, describes binary ones", async () => {
    let body: string | Uint8Array = `echo ${NONCE} end`;
    const { target } = recorder(() => new Response(body));
    expect((await gatewayRequest(target, { method: "GET", path: "/x" })).body).toBe("echo [redacted] end");
    body = "a".repeat(50);
    const cut = await gatewayRequest({ ...target, maxBodyChars: 10 }, { method: "GET", path: "/x" });
    expect(cut).toMatchObject({ body: "a".repeat(10), truncated: true });
    expect(formatToolResponse(cut)).toMatch(/\[body truncated\]$/);
    body = new Uint8Array([0xff, 0xfe, 0x00]);
    expect((await gatewayRequest(target, { method: "GET", path: "/x" })).body).toBe("[binary body: 3 bytes]");
  });
});

describe("fetchNonceView and descriptions", () => {
  it("reads the view and describes the routes", async () => {
    const { target } = recorder(
      () =>
        new Response(
          JSON.stringify({
            service: "stripe",
            routes: ["GET /v1/customers", "GET /v1/customers/{id}"],
            constraints: { "query.limit": { max: 10 } },
            expires_at: "2030-01-01T00:00:00.000Z",
            uses_left: 4,
          }),
          { headers: { "content-type": "application/json" } },
        ),
    );
    const view = await fetchNonceView(target);
    expect(view).toEqual({
      service: "stripe",
      routes: ["GET /v1/customers", "GET /v1/customers/{id}"],
      constraints: { "query.limit": { max: 10 } },
      expiresAt: new Date("2030-01-01T00:00:00.000Z"),
      usesLeft: 4,
    });
    const d = describeRequestTool(view);
    expect(d).toContain("- GET /v1/customers/{id}");
    expect(d).toContain('"query.limit"');
    expect(d).toContain("At most 4 calls left.");
    expect(d).not.toContain(NONCE);
  });

  it("a dead nonce throws AgentNonceError with the gateway's code", async () => {
    const { target } = recorder(
      () =>
        new Response('{"error":{"code":"nonce_expired","message":"nonce has expired"}}', {
          status: 401,
          headers: { "x-agent-nonce-error": "nonce_expired" },
        }),
    );
    const e = await fetchNonceView(target).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AgentNonceError);
    expect((e as AgentNonceError).code).toBe("nonce_expired");
  });

  it("tool names stay within [A-Za-z0-9_-]{1,64}", () => {
    expect(toolName("stripe", "request")).toBe("stripe_request");
    expect(toolName("my.svc/v2", "scopes")).toBe("my_svc_v2_scopes");
    expect(toolName("s".repeat(100), "request")).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
  });
});
