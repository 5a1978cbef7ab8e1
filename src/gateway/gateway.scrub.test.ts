import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import type { FakeUpstreamHandler } from "../test/fake-upstream.js";
import { type Harness, startHarness } from "../test/gateway-harness.js";
import { SMALL_BODY_BYTES } from "./respond.js";
import { REDACTION_MARKER } from "./scrub.js";

/** SECURITY.md rule 7: an upstream that echoes the injected credential never hands it to the agent. */

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function call(handler: FakeUpstreamHandler, opts: Parameters<typeof startHarness>[0] = {}) {
  h = await startHarness({ ...opts, handler });
  const { token } = await h.issue(["* /**"]);
  const r = await h.request("/v1/echo?x=1", {
    headers: { authorization: `Bearer ${token}`, "accept-encoding": "gzip, br" },
  });
  return { r, h };
}

async function scrubbedCount(x: Harness) {
  const m = await x.ctx.metrics.secretsScrubbed.get();
  return m.values.reduce((a, v) => a + v.value, 0);
}

describe("response scrubbing (redact, not block)", () => {
  it("redacts the secret echoed in a JSON body", async () => {
    const { r, h } = await call((req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ you_sent: req.headers.authorization }));
    });
    expect(r.status).toBe(200);
    expect(r.text).not.toContain(h.secret);
    expect(JSON.parse(r.text)).toEqual({ you_sent: `Bearer ${REDACTION_MARKER}` });
    expect(await scrubbedCount(h)).toBe(1);
  });

  it("redacts a secret split across chunked writes (chunk boundary inside the secret)", async () => {
    const { r, h } = await call(async (req, res) => {
      const s = (req.headers.authorization ?? "").slice(7);
      res.writeHead(200, { "content-type": "text/plain" });
      res.write(`start ${s.slice(0, 5)}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
      res.write(s.slice(5, 11));
      await new Promise((resolve) => setTimeout(resolve, 5));
      res.end(`${s.slice(11)} end`);
    });
    expect(r.text).toBe(`start ${REDACTION_MARKER} end`);
    expect(r.headers["content-length"]).toBeUndefined();
    expect(h.upstream.requests).toHaveLength(1);
  });

  it("a small body with a declared length keeps an exact Content-Length after redaction", async () => {
    const { r, h } = await call((req, res) => {
      const body = Buffer.from(JSON.stringify({ you_sent: req.headers.authorization }));
      res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
      res.end(body);
    });
    expect(r.text).not.toContain(h.secret);
    expect(r.headers["content-length"]).toBe(String(Buffer.byteLength(r.text)));
    expect(JSON.parse(r.text)).toEqual({ you_sent: `Bearer ${REDACTION_MARKER}` });
  });

  it("a body over the small-body limit is streamed (chunked), and a secret near its end is still redacted", async () => {
    const pad = "x".repeat(SMALL_BODY_BYTES + 10);
    const { r, h } = await call((req, res) => {
      const body = Buffer.from(`${pad}|${req.headers.authorization}|end`);
      res.writeHead(200, { "content-type": "text/plain", "content-length": body.length });
      res.end(body);
    });
    expect(r.headers["content-length"]).toBeUndefined();
    expect(r.headers["transfer-encoding"]).toBe("chunked");
    expect(r.text).not.toContain(h.secret);
    expect(r.text).toBe(`${pad}|Bearer ${REDACTION_MARKER}|end`);
  });

  it("redacts the secret in base64 (an upstream echoing the encoded header)", async () => {
    const { r, h } = await call((req, res) => {
      res.end(`debug=${Buffer.from(String(req.headers.authorization)).toString("base64")}`);
    });
    const leaked = Buffer.from(`Bearer ${h.secret}`).toString("base64");
    expect(r.text).not.toContain(leaked.slice(10, -4));
    expect(r.text).toContain(REDACTION_MARKER);
  });

  it.each([
    ["gzip", gzipSync],
    ["deflate", deflateSync],
    ["br", brotliCompressSync],
  ] as const)("redacts inside a %s-encoded body and sends identity", async (enc, compress) => {
    const { r, h } = await call((req, res) => {
      const body = compress(Buffer.from(`{"echo":"${req.headers.authorization}","pad":"${"x".repeat(5000)}"}`));
      res.writeHead(200, {
        "content-encoding": enc,
        "content-length": body.length,
        "content-type": "application/json",
      });
      res.end(body);
    });
    expect(r.headers["content-encoding"]).toBeUndefined();
    expect(r.text).not.toContain(h.secret);
    expect(JSON.parse(r.text).echo).toBe(`Bearer ${REDACTION_MARKER}`);
  });

  it("blocks a body in an encoding it cannot decode (502), rather than pass it unscrubbed", async () => {
    const { r } = await call((req, res) => {
      res.writeHead(200, { "content-encoding": "zstd" });
      res.end(String(req.headers.authorization));
    });
    expect(r.status).toBe(502);
    expect(r.headers["x-agent-nonce-error"]).toBe("response_blocked");
  });

  it("drops a response header carrying the secret (including a redirect Location with a query key)", async () => {
    const { r, h } = await call(
      (req, res) => {
        const key = new URL(req.url, "http://x").searchParams.get("api_key");
        res.writeHead(302, {
          location: `https://other.example/cb?api_key=${key}`,
          "x-debug-auth": String(key),
          "set-cookie": [`a=${key}`, "b=ok"],
          "x-fine": "kept",
        });
        res.end();
      },
      { auth: { type: "query", name: "api_key" } },
    );
    expect(r.status).toBe(302);
    expect(r.headers.location).toBeUndefined();
    expect(r.headers["x-debug-auth"]).toBeUndefined();
    expect([r.headers["set-cookie"]].flat()).toEqual(["b=ok"]);
    expect(r.headers["x-fine"]).toBe("kept");
    expect(JSON.stringify(r.headers)).not.toContain(h.secret);
  });

  it("basic auth: redacts the base64 user:pass and the password alone", async () => {
    const password = `pw_FAKE_${Date.now().toString(36)}x9`;
    h = await startHarness({
      auth: { type: "basic" },
      handler: (req, res) => {
        const b64 = String(req.headers.authorization).slice(6);
        res.end(`${b64} | ${Buffer.from(b64, "base64").toString()} | ${password}`);
      },
    });
    await h.setSecret(h.service, JSON.stringify({ username: "acct_FAKE", password }));
    const { token } = await h.issue(["* /**"]);
    const r = await h.request("/v1/x", { headers: { authorization: `Bearer ${token}` } });
    expect(r.text).not.toContain(password);
    expect(r.text).not.toContain(Buffer.from(`acct_FAKE:${password}`).toString("base64"));
    expect(r.text.split(REDACTION_MARKER).length - 1).toBe(3);
  });

  it("streams: the first event of an SSE response arrives before the upstream finishes", async () => {
    let finish: () => void = () => {};
    h = await startHarness({
      handler: (_req, res) => {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.write("data: first\n\n");
        return new Promise<void>((resolve) => {
          finish = () => {
            res.end("data: last\n\n");
            resolve();
          };
        });
      },
    });
    const { token } = await h.issue(["* /**"]);
    const { Agent } = await import("undici");
    const agent = new Agent();
    try {
      const resp = await agent.request({
        origin: h.url,
        path: "/v1/stream",
        method: "GET",
        headers: { authorization: `Bearer ${token}` },
      });
      const it = resp.body[Symbol.asyncIterator]();
      const first = await it.next();
      expect(Buffer.from(first.value as Buffer).toString()).toBe("data: first\n\n");
      finish();
      let rest = "";
      for (let n = await it.next(); !n.done; n = await it.next()) rest += Buffer.from(n.value as Buffer).toString();
      expect(rest).toBe("data: last\n\n");
    } finally {
      await agent.close();
    }
  });
});
