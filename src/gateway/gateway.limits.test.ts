import { randomBytes } from "node:crypto";
import net from "node:net";
import { Agent } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import type { FakeUpstreamHandler } from "../test/fake-upstream.js";
import { type Harness, startHarness } from "../test/gateway-harness.js";

/** SECURITY.md rule 8: everything is bounded, and no reset socket or rejected promise crashes the process. */

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

async function setup(opts: Parameters<typeof startHarness>[0] = {}) {
  h = await startHarness(opts);
  const { token, id } = await h.issue(["* /**"]);
  return { h, token, id };
}

function rawSocket(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1", () => resolve(s));
    s.on("error", reject);
  });
}

/** The server is alive and still serves a normal request. */
async function stillServes(x: Harness, token: string) {
  const r = await x.request("/v1/ok", { headers: bearer(token) });
  expect(r.status).toBe(200);
}

describe("size limits", () => {
  it("413 for a Content-Length over maxBodyBytes, before anything is forwarded", async () => {
    const { h, token } = await setup({ config: { gateway: { maxBodyBytes: 1000 } } });
    const r = await h.request("/v1/x", { method: "POST", headers: bearer(token), body: Buffer.alloc(1001) });
    expect(r.status).toBe(413);
    expect(r.headers["x-agent-nonce-error"]).toBe("payload_too_large");
    expect(h.upstream.requests).toHaveLength(0);
  });

  it("413 for a chunked body that grows past maxBodyBytes while streaming", async () => {
    const { h, token } = await setup({ config: { gateway: { maxBodyBytes: 1000 } } });
    async function* body() {
      for (let i = 0; i < 10; i++) yield Buffer.alloc(300, 97);
    }
    const r = await h.request("/v1/x", { method: "POST", headers: bearer(token), body: body() as never });
    expect(r.status).toBe(413);
    for (const req of h.upstream.requests) expect(req.body.length).toBeLessThanOrEqual(1000);
  });

  it("a body within the limit is streamed through intact", async () => {
    const { h, token } = await setup({
      handler: (req, res) => {
        res.end(String(req.body.length));
      },
    });
    const payload = randomBytes(3 * 1024 * 1024);
    const r = await h.request("/v1/upload", { method: "PUT", headers: bearer(token), body: payload });
    expect(r.text).toBe(String(payload.length));
    expect(h.upstream.requests[0]!.body.equals(payload)).toBe(true);
  });

  it("431 with the JSON error for headers over maxHeaderBytes", async () => {
    const { h, token } = await setup({ config: { gateway: { maxHeaderBytes: 2048 } } });
    const r = await h.request("/v1/x", { headers: { ...bearer(token), "x-big": "a".repeat(4096) } }).catch((e) => e);
    expect(r.status).toBe(431);
    expect(r.headers["x-agent-nonce-error"]).toBe("headers_too_large");
    expect(JSON.parse(r.text).error.code).toBe("headers_too_large");
    expect(h.upstream.requests).toHaveLength(0);
    await stillServes(h, token);
  });
});

describe("concurrency per nonce", () => {
  it("429 rate_limited beyond maxConcurrentPerNonce, without counting a use", async () => {
    const release: (() => void)[] = [];
    const handler: FakeUpstreamHandler = (_req, res) =>
      new Promise<void>((resolve) => {
        release.push(() => {
          res.end("ok");
          resolve();
        });
      });
    const { h, token, id } = await setup({ handler, config: { gateway: { maxConcurrentPerNonce: 2 } } });
    const a = h.request("/v1/a", { headers: bearer(token) });
    const b = h.request("/v1/b", { headers: bearer(token) });
    await expect.poll(() => h.upstream.requests.length).toBe(2);
    const c = await h.request("/v1/c", { headers: bearer(token) });
    expect(c.status).toBe(429);
    expect(c.headers["x-agent-nonce-error"]).toBe("rate_limited");
    expect(c.headers["retry-after"]).toBe("1");
    expect((await h.ctx.store.getNonce(id))!.uses).toBe(2);
    for (const r of release) r();
    expect((await a).status).toBe(200);
    expect((await b).status).toBe(200);
    // slots are released when responses finish
    const d = h.request("/v1/d", { headers: bearer(token) });
    await expect.poll(() => release.length).toBe(3);
    release[2]!();
    expect((await d).status).toBe(200);
  });
});

describe("upstream timeouts and failures", () => {
  it("504 upstream_timeout when the upstream never sends headers", async () => {
    const { h, token } = await setup({
      handler: () => new Promise<void>(() => {}),
      config: { gateway: { headersTimeoutMs: 150 } },
    });
    const r = await h.request("/v1/slow", { headers: bearer(token) });
    expect(r.status).toBe(504);
    expect(r.headers["x-agent-nonce-error"]).toBe("upstream_timeout");
  });

  it("502 upstream_error for a refused connection, without leaking the URL or the query credential", async () => {
    const { h, token } = await setup({ auth: { type: "query", name: "key" } });
    const port = h.upstream.port;
    await h.upstream.close();
    const r = await h.request("/v1/x?foo=bar", { headers: bearer(token) });
    expect(r.status).toBe(502);
    expect(r.headers["x-agent-nonce-error"]).toBe("upstream_error");
    expect(r.text).not.toContain(String(port));
    expect(r.text).not.toContain(h.secret);
    expect(r.text).not.toContain("foo=bar");
  });

  it("an upstream that resets before answering gives 502, and the gateway keeps serving", async () => {
    let n = 0;
    const { h, token } = await setup({
      handler: (_req, res, raw) => {
        if (n++ === 0) raw.socket.destroy();
        else res.end("ok");
      },
    });
    const r = await h.request("/v1/x", { headers: bearer(token), method: "POST", body: "x" });
    expect(r.status).toBe(502);
    await stillServes(h, token);
  });

  it("an upstream that resets mid-body aborts the agent's response, and the gateway keeps serving", async () => {
    let n = 0;
    const { h, token } = await setup({
      handler: (_req, res, raw) => {
        if (n++ > 0) return void res.end("ok");
        res.writeHead(200, { "content-length": "100000" });
        res.write(Buffer.alloc(1000, 97));
        setImmediate(() => raw.socket.destroy());
      },
    });
    await expect(h.request("/v1/x", { headers: bearer(token) })).rejects.toThrow();
    await stillServes(h, token);
  });

  it("a small body (declared length, collected before sending) that breaks half-way is a clean 502, never a partial answer", async () => {
    let n = 0;
    const { h, token, id } = await setup({
      handler: (_req, res, raw) => {
        if (n++ > 0) return void res.end("ok");
        res.writeHead(200, { "content-type": "application/json", "content-length": "2000" });
        res.write(Buffer.alloc(500, 97));
        setImmediate(() => raw.socket.destroy());
      },
    });
    const r = await h.request("/v1/x", { headers: bearer(token) });
    expect(r.status).toBe(502);
    expect(JSON.parse(r.text).error.code).toBe("upstream_error");
    expect(r.text).not.toContain("aaaa");
    await expect
      .poll(async () => (await h.ctx.store.listAudit({ type: "nonce.completed", nonceId: id }, { limit: 10 })).items)
      .toHaveLength(1);
    const [done] = (await h.ctx.store.listAudit({ type: "nonce.completed", nonceId: id }, { limit: 10 })).items;
    expect(done!.request).toMatchObject({ status: 502, bytes: 0 });
    await stillServes(h, token);
  });

  it("an agent that goes away mid-stream makes the gateway drop its upstream request", async () => {
    let upstreamClosed = false;
    const { h, token } = await setup({
      handler: (req, res) => {
        if (req.url === "/v1/ok") return void res.end("ok");
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.write("data: first\n\n");
        return new Promise<void>((resolve) => {
          res.on("close", () => {
            upstreamClosed = true;
            resolve();
          });
        });
      },
    });
    const agent = new Agent();
    const r = await agent.request({ origin: h.url, path: "/v1/stream", method: "GET", headers: bearer(token) });
    for await (const chunk of r.body) {
      expect(String(chunk)).toContain("first");
      break;
    }
    await agent.destroy();
    await expect.poll(() => upstreamClosed).toBe(true);
    await stillServes(h, token);
  });

  it("an upstream body that stalls past bodyTimeout aborts the response, and the gateway keeps serving", async () => {
    let n = 0;
    const { h, token } = await setup({
      config: { gateway: { bodyTimeoutMs: 150 } },
      handler: (_req, res) => {
        if (n++ > 0) return void res.end("ok");
        res.writeHead(200, { "content-type": "text/plain" });
        res.write("partial");
      },
    });
    await expect(h.request("/v1/x", { headers: bearer(token) })).rejects.toThrow();
    await stillServes(h, token);
  });
});

describe("client resets", () => {
  it("a client that resets mid-upload does not crash the gateway", async () => {
    const { h, token } = await setup();
    const s = await rawSocket(h.port);
    s.write(
      `POST /v1/x HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nContent-Length: 100000\r\n\r\n${"a".repeat(500)}`,
    );
    await expect.poll(() => h.upstream.requests.length).toBe(1);
    s.resetAndDestroy();
    await stillServes(h, token);
  });

  it("a client that disconnects while the upstream is still answering does not crash the gateway", async () => {
    let release: () => void = () => {};
    const { h, token } = await setup({
      handler: (req, res) =>
        req.url === "/v1/ok"
          ? void res.end("ok")
          : new Promise<void>((resolve) => {
              release = () => {
                res.end("late");
                resolve();
              };
            }),
    });
    const agent = new Agent();
    const ac = new AbortController();
    const pending = agent
      .request({ origin: h.url, path: "/v1/hang", method: "GET", headers: bearer(token), signal: ac.signal })
      .catch((e: unknown) => e);
    await expect.poll(() => h.upstream.requests.length).toBe(1);
    ac.abort();
    await pending;
    release();
    await stillServes(h, token);
    await agent.close();
  });

  it("garbage on the socket gets a 400 JSON error and the connection is closed", async () => {
    const { h, token } = await setup();
    const s = await rawSocket(h.port);
    const resp = await new Promise<string>((resolve) => {
      let out = "";
      s.setEncoding("latin1");
      s.on("data", (d: string) => {
        out += d;
      });
      s.on("close", () => resolve(out));
      s.write("\u0016\u0003\u0001garbage that is not http\r\n\r\n");
    });
    expect(resp.startsWith("HTTP/1.1 400")).toBe(true);
    expect(resp).toContain('"code":"bad_request"');
    await stillServes(h, token);
  });
});

describe("completion audit", () => {
  it("an upstream failure after the use was counted is closed with a nonce.completed carrying the gateway status", async () => {
    const { h, token, id } = await setup();
    await h.upstream.close();
    const r = await h.request("/v1/x", { headers: bearer(token) });
    expect(r.status).toBe(502);
    await expect
      .poll(async () => (await h.ctx.store.listAudit({ type: "nonce.completed", nonceId: id }, { limit: 10 })).items)
      .toHaveLength(1);
    const [done] = (await h.ctx.store.listAudit({ type: "nonce.completed", nonceId: id }, { limit: 10 })).items;
    expect(done!.request).toMatchObject({ status: 502, bytes: 0, path: "/v1/x" });
  });

  it("a failing completion write is counted, not thrown", async () => {
    const { h, token } = await setup();
    const orig = h.ctx.store.appendAudit.bind(h.ctx.store);
    h.ctx.store.appendAudit = async () => {
      throw new Error("audit down");
    };
    const r = await h.request("/v1/x", { headers: bearer(token) });
    expect(r.status).toBe(200);
    await expect.poll(async () => (await h.ctx.metrics.auditWriteFailures.get()).values[0]?.value).toBe(1);
    h.ctx.store.appendAudit = orig;
    await stillServes(h, token);
  });
});
