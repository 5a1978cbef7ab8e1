import { randomBytes } from "node:crypto";
import { brotliCompressSync, gzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import type { FakeUpstreamHandler, RecordedRequest } from "../test/fake-upstream.js";
import { type Harness, startHarness } from "../test/gateway-harness.js";
import { REDACTION_MARKER } from "./scrub.js";

/**
 * SECURITY.md rule 13 through real sockets: partial responses, repeated and stacked codings, re-encoded echoes
 * and truncated echoes never hand back any part of the secret; what cannot be scrubbed is blocked with 502
 * `response_blocked`. The secret carries `/ + = &`, the characters the usual encoders spell differently.
 */

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const newSecret = () => `sk_test_FAKE_${randomBytes(8).toString("hex")}/a+b=c&d`;
const bearer = (req: RecordedRequest) => String(req.headers.authorization);

async function start(handler: FakeUpstreamHandler) {
  h = await startHarness({ handler, secret: newSecret() });
  const { token } = await h.issue(["* /**"]);
  const get = (path: string, headers: Record<string, string> = {}) =>
    (h as Harness).request(path, { headers: { authorization: `Bearer ${token}`, ...headers } });
  return { h, get };
}

/** No 5-character piece of the secret anywhere in `text`. */
function expectNoPiece(text: string, secret: string) {
  for (let i = 0; i + 5 <= secret.length; i++) expect(text).not.toContain(secret.slice(i, i + 5));
}

async function blockedCount(x: Harness) {
  const m = await x.ctx.metrics.secretsScrubbed.get();
  return m.values.filter((v) => v.labels.action === "blocked").reduce((a, v) => a + v.value, 0);
}

/** Echoes the request as JSON and honours `Range: bytes=a-b` like a static file server (206 + Content-Range). */
const rangeEcho: FakeUpstreamHandler = (req, res) => {
  const body = Buffer.from(JSON.stringify({ you_sent: bearer(req) }));
  const m = /^bytes=(\d+)-(\d*)$/.exec(String(req.headers.range ?? ""));
  if (!m) {
    res.writeHead(200, { "content-type": "application/json", "content-length": body.length, "accept-ranges": "bytes" });
    res.end(body);
    return;
  }
  const from = Number(m[1]);
  const to = m[2] ? Math.min(Number(m[2]), body.length - 1) : body.length - 1;
  const part = body.subarray(from, to + 1);
  res.writeHead(206, {
    "content-type": "application/json",
    "content-length": part.length,
    "content-range": `bytes ${from}-${to}/${body.length}`,
  });
  res.end(part);
};

describe("partial responses (Range)", () => {
  it("Range and If-Range never reach the upstream: two ranges split inside the secret get whole, redacted bodies", async () => {
    const { h, get } = await start(rangeEcho);
    // `{"you_sent":"Bearer sk_test_FAKE_…`: byte 30 is inside the secret, so each range holds half of it.
    const first = await get("/v1/echo", { range: "bytes=0-29", "if-range": '"v1"' });
    const second = await get("/v1/echo", { range: "bytes=30-" });
    for (const req of h.upstream.requests) {
      const names = req.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
      expect(names).not.toContain("range");
      expect(names).not.toContain("if-range");
    }
    for (const r of [first, second]) {
      expect(r.status).toBe(200);
      expect(JSON.parse(r.text)).toEqual({ you_sent: `Bearer ${REDACTION_MARKER}` });
    }
    expectNoPiece(first.text + second.text, h.secret);
  });

  it.each([
    ["206 Partial Content", 206, { "content-range": "bytes 30-59/90" }],
    ["a 200 with Content-Range", 200, { "content-range": "bytes 30-59/90" }],
  ] as const)("an upstream that sends %s unasked is blocked: 502 response_blocked", async (_n, status, extra) => {
    const { h, get } = await start((req, res) => {
      const part = Buffer.from(`{"you_sent":"Bearer ${bearer(req).slice(7 + 10)}"}`).subarray(0, 30);
      res.writeHead(status, { "content-type": "application/json", "content-length": part.length, ...extra });
      res.end(part);
    });
    const r = await get("/v1/echo");
    expect(r.status).toBe(502);
    expect(r.headers["x-agent-nonce-error"]).toBe("response_blocked");
    expect(JSON.parse(r.text).error.code).toBe("response_blocked");
    expectNoPiece(r.text, h.secret);
    expect(await blockedCount(h)).toBe(1);
  });
});

describe("repeated and stacked codings", () => {
  const echo = (req: RecordedRequest) => Buffer.from(`{"echo":"${bearer(req)}","pad":"${"x".repeat(3000)}"}`);

  it.each([
    ["two Content-Encoding headers (gzip, then br)", ["Content-Encoding", "gzip", "Content-Encoding", "br"]],
    ["one header listing both (gzip, br)", ["Content-Encoding", "gzip, br"]],
    ["gzip, identity, br with odd case and spaces", ["Content-Encoding", " GZip ,identity", "Content-Encoding", "BR "]],
  ])("%s: every coding is undone and the echo redacted", async (_n, codingHeaders) => {
    const { h, get } = await start((req, res) => {
      const body = brotliCompressSync(gzipSync(echo(req))); // gzip applied first, br last
      res.writeHead(200, ["Content-Type", "application/json", ...codingHeaders, "Content-Length", String(body.length)]);
      res.end(body);
    });
    const r = await get("/v1/echo", { "accept-encoding": "gzip, br" });
    expect(r.status).toBe(200);
    expect(r.headers["content-encoding"]).toBeUndefined();
    expect(JSON.parse(r.text).echo).toBe(`Bearer ${REDACTION_MARKER}`);
    expectNoPiece(r.text, h.secret);
  });

  it.each([
    ["a coding it cannot decode stacked on one it can", ["Content-Encoding", "gzip", "Content-Encoding", "zstd"]],
    ["more than three codings", ["Content-Encoding", "gzip, gzip, gzip, gzip"]],
    ["a transfer-coding other than chunked (gzip, chunked)", ["Transfer-Encoding", "gzip, chunked"]],
  ])("%s: blocked, 502 response_blocked", async (_n, headers) => {
    const { h, get } = await start((req, res) => {
      res.writeHead(200, ["Content-Type", "application/json", ...headers]);
      res.end(gzipSync(echo(req)));
    });
    const r = await get("/v1/echo", { "accept-encoding": "gzip, br" });
    expect(r.status).toBe(502);
    expect(r.headers["x-agent-nonce-error"]).toBe("response_blocked");
    expect(await blockedCount(h)).toBe(1);
  });
});

describe("re-encoded and truncated echoes", () => {
  const hex = (c: string) => c.charCodeAt(0).toString(16);
  const forms: ReadonlyArray<(s: string) => string> = [
    (s) => JSON.stringify(s).slice(1, -1).replaceAll("/", "\\/"), // PHP json_encode
    (s) => JSON.stringify(s).slice(1, -1).replaceAll("&", "\\u0026"), // Go encoding/json
    (s) => encodeURIComponent(s).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()), // lower-case percent-encoding
    (s) => new URLSearchParams({ v: s }).toString().slice(2), // form encoding
    (s) => s.replace(/[/+=&]/g, (c) => `&#x${hex(c)};`), // HTML hex entities
    (s) => s.replace(/[/+=&]/g, (c) => `&#${c.charCodeAt(0)};`), // HTML decimal entities
    (s) => s.replaceAll("&", "&amp;"), // HTML escape
    (s) => Buffer.from(`Bearer ${s}`).toString("base64url"),
    (s) => Buffer.from(`Bearer ${s}`).toString("base64").replaceAll("/", "\\/"), // base64 inside PHP JSON
  ];

  it("an upstream echoing the secret in every usual re-encoding hands back none of it", async () => {
    const { h, get } = await start((req, res) => {
      const s = bearer(req).slice(7);
      res.writeHead(200, { "content-type": "text/plain" });
      res.end(forms.map((f) => `[${f(s)}]`).join("\n"));
    });
    const r = await get("/v1/echo");
    expect(r.status).toBe(200);
    expect(r.text.split(REDACTION_MARKER).length - 1).toBe(forms.length);
    expectNoPiece(r.text, h.secret);
  });

  it("a body cut inside the echo hands back at most its first 3 bytes (streamed and small bodies)", async () => {
    const { h, get } = await start((req, res) => {
      const url = new URL(req.url, "http://x");
      const body = `debug: ${bearer(req).slice(7, 7 + Number(url.searchParams.get("n")))}`;
      if (url.searchParams.has("stream")) res.writeHead(200, { "content-type": "text/plain" });
      else res.writeHead(200, { "content-type": "text/plain", "content-length": Buffer.byteLength(body) });
      res.end(body);
    });
    for (const mode of ["", "&stream=1"]) {
      expect((await get(`/v1/x?n=3${mode}`)).text).toBe(`debug: ${h.secret.slice(0, 3)}`);
      for (const n of [4, 12, h.secret.length - 1]) {
        expect((await get(`/v1/x?n=${n}${mode}`)).text).toBe(`debug: ${REDACTION_MARKER}`);
      }
    }
  });
});
