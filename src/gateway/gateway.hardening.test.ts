import net from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startFakeUpstream } from "../test/fake-upstream.js";
import { type Harness, startHarness } from "../test/gateway-harness.js";

/** SECURITY.md gateway rules 1, 3, 4, 5, 6, 9 and 15 end to end, including raw-socket smuggling attempts. */

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.close();
});

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

/** Writes raw bytes to the gateway and returns everything it answered before closing. */
function raw(port: number, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1");
    let out = "";
    s.setEncoding("latin1");
    s.on("data", (d: string) => {
      out += d;
    });
    s.on("error", reject);
    s.on("close", () => resolve(out));
    s.write(data);
  });
}

const statusOf = (resp: string) => Number(resp.slice(9, 12));

describe("rule 1: the upstream origin comes from the service only", () => {
  it("absolute-form targets are rejected and never reach any host", async () => {
    const other = await startFakeUpstream();
    try {
      const { token } = await h.issue(["*  /**".replace("  ", " ")]);
      const resp = await raw(
        h.port,
        `GET ${other.url}/v1/x HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`,
      );
      expect(statusOf(resp)).toBe(400);
      expect(resp).toContain("x-agent-nonce-error: bad_request");
      expect(other.requests).toHaveLength(0);
      expect(h.upstream.requests).toHaveLength(0);
    } finally {
      await other.close();
    }
  });

  it.each(["//evil.example/v1/x", "/\\evil.example/v1/x", "\\\\evil.example/v1/x"])(
    "target %s is rejected",
    async (target) => {
      const { token } = await h.issue(["* /**"]);
      const resp = await raw(
        h.port,
        `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`,
      );
      expect(statusOf(resp)).toBe(400);
      expect(h.upstream.requests).toHaveLength(0);
    },
  );

  it("Host and X-Forwarded-Host cannot redirect the request", async () => {
    const other = await startFakeUpstream();
    try {
      const { token } = await h.issue(["GET /v1/x"]);
      const host = new URL(other.url).host;
      const r = await h.request("/v1/x", { headers: { ...bearer(token), host, "x-forwarded-host": host } });
      expect(r.status).toBe(200);
      expect(other.requests).toHaveLength(0);
      expect(h.upstream.requests).toHaveLength(1);
    } finally {
      await other.close();
    }
  });
});

describe("rule 3: redirects are never followed", () => {
  it("a 3xx with Location is handed back untouched and the other host gets nothing", async () => {
    const other = await startFakeUpstream();
    await h.close();
    h = await startHarness({
      handler: (_req, res) => {
        res.writeHead(302, { location: `${other.url}/steal`, "x-upstream": "1" });
        res.end("moved");
      },
    });
    try {
      const { token } = await h.issue(["GET /v1/x"]);
      const r = await h.request("/v1/x", { headers: bearer(token) });
      expect(r.status).toBe(302);
      expect(r.headers.location).toBe(`${other.url}/steal`);
      expect(r.text).toBe("moved");
      expect(other.requests).toHaveLength(0);
      expect(h.upstream.requests).toHaveLength(1);
    } finally {
      await other.close();
    }
  });
});

describe("rules 4 and 5: header allowlist and credential carriers", () => {
  it("strips hop-by-hop, Connection-named, forwarding, method-override, underscore and credential headers", async () => {
    const { token } = await h.issue(["GET /v1/x"]);
    const resp = await raw(
      h.port,
      [
        "GET /v1/x HTTP/1.1",
        "Host: 127.0.0.1",
        `Authorization: Bearer ${token}`,
        "Connection: keep-alive, Stripe-Version, X-Custom-Hop",
        "Stripe-Version: 2024-06-20",
        "X-Custom-Hop: 1",
        "Keep-Alive: timeout=5",
        "TE: trailers",
        "Upgrade: websocket",
        "Forwarded: for=1.2.3.4;host=evil.example",
        "X-Forwarded-For: 1.2.3.4",
        "X-Forwarded-Host: evil.example",
        "X-HTTP-Method-Override: DELETE",
        "X-HTTP-Method: DELETE",
        "X-Method-Override: DELETE",
        "X_Api_Key: sneaky",
        "Cookie: session=abc",
        "Proxy-Authorization: Basic eHg6eXk=",
        "X-Api-Key: client-supplied",
        "Idempotency-Key: idem-1",
        "Accept: application/json",
        "Connection: close",
        "",
        "",
      ].join("\r\n"),
    );
    expect(statusOf(resp)).toBe(200);
    const got = h.upstream.requests[0]!;
    const names = new Set(got.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase()));
    for (const n of [
      "stripe-version",
      "x-custom-hop",
      "keep-alive",
      "te",
      "upgrade",
      "forwarded",
      "x-forwarded-for",
      "x-forwarded-host",
      "x-http-method-override",
      "x-http-method",
      "x-method-override",
      "x_api_key",
      "cookie",
      "proxy-authorization",
      "x-api-key",
    ]) {
      expect(names.has(n), n).toBe(false);
    }
    expect(got.method).toBe("GET");
    expect(got.headers["idempotency-key"]).toBe("idem-1");
    expect(got.headers.accept).toBe("application/json");
    expect(got.rawHeaders.filter((x) => x.toLowerCase() === "authorization")).toHaveLength(1);
  });

  it("header auth: the client's own copy of the key header is replaced by the real one", async () => {
    await h.putService(h.service, h.upstream.url, { type: "header", name: "Stripe-Version" });
    const { token } = await h.issue(["GET /v1/x"]);
    const r = await h.request("/v1/x", { headers: { ...bearer(token), "stripe-version": "client-value" } });
    expect(r.status).toBe(200);
    expect(h.upstream.requests).toHaveLength(1);
    const got = h.upstream.requests[0]!;
    expect(got.rawHeaders.filter((x) => x.toLowerCase() === "stripe-version")).toHaveLength(1);
    expect(got.headers["stripe-version"]).toBe(h.secret);
    expect(got.headers.authorization).toBeUndefined();
  });

  it("query auth: the client's own parameter (any spelling) is removed and exactly one real one appended", async () => {
    await h.putService(h.service, h.upstream.url, { type: "query", name: "api_key" });
    const { token } = await h.issue(["GET /v1/x"]);
    const r = await h.request("/v1/x?a=1&api_key=mine&API%5FKEY=mine2&b=2", { headers: bearer(token) });
    expect(r.status).toBe(200);
    const url = new URL(h.upstream.requests[0]!.url, "http://x");
    expect(url.searchParams.getAll("api_key")).toEqual([h.secret]);
    expect([...url.searchParams.keys()]).toEqual(["a", "b", "api_key"]);
    expect(h.upstream.requests[0]!.headers.authorization).toBeUndefined();
  });

  it("basic auth: user:pass from the sealed JSON", async () => {
    await h.putService(h.service, h.upstream.url, { type: "basic" });
    await h.setSecret(h.service, JSON.stringify({ username: "acct_FAKE", password: h.secret }));
    const { token } = await h.issue(["GET /v1/x"]);
    const r = await h.request("/v1/x", { headers: bearer(token) });
    expect(r.status).toBe(200);
    expect(h.upstream.requests).toHaveLength(1);
    expect(h.upstream.requests[0]!.rawHeaders.filter((x) => x.toLowerCase() === "authorization")).toHaveLength(1);
    expect(h.upstream.requests[0]!.headers.authorization).toBe(
      `Basic ${Buffer.from(`acct_FAKE:${h.secret}`).toString("base64")}`,
    );
  });
});

describe("rule 6: smuggling and strict parsing (raw sockets)", () => {
  const head = (token: string) => `Host: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n`;

  it("Transfer-Encoding together with Content-Length is rejected and not forwarded", async () => {
    const { token } = await h.issue(["POST /v1/x"]);
    const resp = await raw(
      h.port,
      `POST /v1/x HTTP/1.1\r\n${head(token)}Content-Length: 4\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\nGET /v1/x HTTP/1.1\r\nHost: x\r\n\r\n`,
    );
    expect(statusOf(resp)).toBe(400);
    expect(h.upstream.requests).toHaveLength(0);
  });

  it.each([
    ["CR inside a header value", "X-Foo: a\rb\r\n"],
    ["bare LF line ending", "X-Foo: a\nX-Bar: b\r\n"],
    ["NUL in a header value", "X-Foo: a\u0000b\r\n"],
    ["obs-fold continuation", "X-Foo: a\r\n  folded\r\n"],
    ["space before colon", "X-Foo : a\r\n"],
    ["duplicate differing Content-Length", "Content-Length: 1\r\nContent-Length: 2\r\n"],
    ["non-chunked Transfer-Encoding", "Transfer-Encoding: gzip\r\n"],
  ])("%s is rejected", async (_name, extra) => {
    const { token } = await h.issue(["* /**"]);
    const resp = await raw(h.port, `POST /v1/x HTTP/1.1\r\n${head(token)}${extra}Connection: close\r\n\r\n`);
    expect(statusOf(resp)).toBe(400);
    expect(h.upstream.requests).toHaveLength(0);
  });

  it("NUL in the target is rejected", async () => {
    const { token } = await h.issue(["* /**"]);
    const resp = await raw(h.port, `GET /v1/x\u0000 HTTP/1.1\r\n${head(token)}Connection: close\r\n\r\n`);
    expect(statusOf(resp)).toBe(400);
    expect(h.upstream.requests).toHaveLength(0);
  });

  it("CR/LF in the target is rejected with 400 and nothing is forwarded", async () => {
    const { token } = await h.issue(["* /**"]);
    const resp = await raw(h.port, `GET /v1/x\r\nX-Injected: 1 HTTP/1.1\r\n${head(token)}Connection: close\r\n\r\n`);
    expect(statusOf(resp)).toBe(400);
    expect(h.upstream.requests).toHaveLength(0);
  });

  it("a space-split target is one request for /v1/x whose smuggled header is not forwarded", async () => {
    const { token } = await h.issue(["* /**"]);
    const target = "/v1/x HTTP/1.1\r\nX-Injected: 1\r\nFoo: /v1/y";
    const resp = await raw(h.port, `GET ${target} HTTP/1.1\r\n${head(token)}Connection: close\r\n\r\n`);
    // The parser reads "X-Injected: 1" as the client's own header: it is not on the allowlist, so it is dropped.
    expect(statusOf(resp)).toBe(200);
    expect(h.upstream.requests).toHaveLength(1);
    const got = h.upstream.requests[0]!;
    expect(got.url).toBe("/v1/x");
    expect(got.headers["x-injected"]).toBeUndefined();
    expect(got.headers.foo).toBeUndefined();
  });

  it("a chunked body is streamed to the upstream and re-framed by the gateway", async () => {
    const { token } = await h.issue(["POST /v1/x"]);
    const resp = await raw(
      h.port,
      `POST /v1/x HTTP/1.1\r\n${head(token)}Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n`,
    );
    expect(statusOf(resp)).toBe(200);
    expect(h.upstream.requests[0]!.body.toString()).toBe("hello world");
  });

  it("CONNECT is not proxied: an explicit 400, then the connection is closed", async () => {
    const other = await startFakeUpstream();
    try {
      const { token } = await h.issue(["* /**"]);
      const authority = new URL(other.url).host;
      // raw() resolves only once the gateway has closed the socket, so a tunnel left open would time out here.
      const resp = await raw(
        h.port,
        `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\nAuthorization: Bearer ${token}\r\n\r\nGET /v1/x HTTP/1.1\r\nHost: x\r\n\r\n`,
      );
      expect(statusOf(resp)).toBe(400);
      expect(resp).toContain("X-Agent-Nonce-Error: bad_request");
      expect(resp.match(/HTTP\/1\.1 /g)).toHaveLength(1);
      expect(other.requests).toHaveLength(0);
      expect(h.upstream.requests).toHaveLength(0);
    } finally {
      await other.close();
    }
  });
});

describe("rule 9: https only, no private addresses unless the service is marked insecure", () => {
  it("an http/loopback upstream is refused when not marked insecure_upstream", async () => {
    await h.putService(h.service, h.upstream.url, { type: "bearer" }, false);
    const { token, id } = await h.issue(["GET /v1/x"]);
    const r = await h.request("/v1/x", { headers: bearer(token) });
    expect(r.status).toBe(502);
    expect(r.headers["x-agent-nonce-error"]).toBe("upstream_error");
    expect(h.upstream.requests).toHaveLength(0);
    expect((await h.ctx.store.getNonce(id))!.uses).toBe(0);
  });

  it("an https upstream on a loopback address is refused when not marked insecure_upstream", async () => {
    await h.putService(h.service, `https://127.0.0.1:${h.upstream.port}`, { type: "bearer" }, false);
    const { token } = await h.issue(["GET /v1/x"]);
    const r = await h.request("/v1/x", { headers: bearer(token) });
    expect(r.status).toBe(502);
    expect(JSON.parse(r.text).error.message).toContain("private or loopback");
  });
});

describe("rule 15: one decoding only, and transition forms of private addresses are private", () => {
  it.each([
    "/v1/%252e%252e%252fadmin",
    "/v1/x%252F",
    "/v1/x%2500",
    "/v1/%C0%AE%C0%AE/admin",
    "/v1/%E0%80%AE",
    "/v1/x%80",
    "/v1/%ED%A0%80",
    "/v1/%EF%BC%8E%EF%BC%8E",
  ])("%s is refused with 400 and never forwarded", async (target) => {
    const { token, id } = await h.issue(["* /**"]);
    const r = await h.request(target, { headers: bearer(token) });
    expect(r.status).toBe(400);
    expect(r.headers["x-agent-nonce-error"]).toBe("bad_request");
    expect(h.upstream.requests).toHaveLength(0);
    expect((await h.ctx.store.getNonce(id))!.uses).toBe(0);
  });

  it.each(["[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[::127.0.0.1]", "[64:ff9b::7f00:1]", "[2002:7f00:1::1]"])(
    "an upstream at %s is refused before any connection unless marked insecure_upstream",
    async (host) => {
      // The refusal comes from the service check (its message), not from a failed connection or TLS handshake.
      await h.putService(h.service, `https://${host}:${h.upstream.port}`, { type: "bearer" }, false);
      const { token, id } = await h.issue(["GET /v1/x"]);
      const r = await h.request("/v1/x", { headers: bearer(token) });
      expect(r.status).toBe(502);
      expect(JSON.parse(r.text).error.message).toContain("private or loopback");
      expect(h.upstream.requests).toHaveLength(0);
      expect((await h.ctx.store.getNonce(id))!.uses).toBe(0);
    },
  );
});
