import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { getRequestListener } from "@hono/node-server";
import { request } from "undici";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type ApiHarness, apiHarness, stripeService } from "../test/api-harness.js";
import { createApi, createApiApp } from "./app.js";
import { createApiServer } from "./server.js";

/**
 * `POST /v1/nonces` has one handler (issue-handler.ts) and three ways in: the node:http entry point the server
 * runs (fast-issue.ts), the Hono route on node:http (what any path variant Hono routes here reaches), and the Hono
 * route in process (`app.request`, a WHATWG Request). The same requests, malformed and edge ones above all, must
 * get the same answers from each; a check of its own says which entry point really answered.
 */

let h: ApiHarness;
let api: ReturnType<typeof createApiServer>;
let honoOnly: Server;
let fastBase: string;
let honoBase: string;

const listen = async (server: Server) => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

beforeEach(async () => {
  h = await apiHarness();
  await stripeService(h);
  api = createApiServer(h.ctx);
  fastBase = await listen(api.server as Server);
  honoOnly = createServer(getRequestListener(createApiApp(h.ctx).fetch));
  honoBase = await listen(honoOnly);
});
afterEach(async () => {
  await api.close();
  honoOnly.closeAllConnections();
  await new Promise((resolve) => honoOnly.close(resolve));
  await h.close();
});

type Body = string | { chunked: string };
interface Case {
  name: string;
  /** Header pairs as sent, repeats allowed; the key's header is added unless `auth` is false. */
  headers?: [string, string][];
  auth?: "admin" | "auditor" | "approval" | "twice" | false;
  body: Body;
  path?: string;
}

const valid = JSON.stringify({ service: "stripe", scope: "read:customers", agent: "fast-bot", ttl: "5m" });
const JSON_TYPE: [string, string] = ["content-type", "application/json"];
const big = JSON.stringify({
  service: "stripe",
  scope: "read:customers",
  agent: "a",
  metadata: { x: "y".repeat(70_000) },
});

const cases: Case[] = [
  { name: "issued", headers: [JSON_TYPE], body: valid },
  { name: "issued, with a query string", headers: [JSON_TYPE], body: valid, path: "/v1/nonces?via=x" },
  { name: "issued, JSON with a charset", headers: [["content-type", "application/json; charset=utf-8"]], body: valid },
  { name: "issued, a +json media type", headers: [["content-type", "application/vnd.agent+json"]], body: valid },
  { name: "issued, chunked", headers: [JSON_TYPE], body: { chunked: valid } },
  { name: "pending approval (202)", auth: "approval", headers: [JSON_TYPE], body: valid },
  { name: "forbidden role", auth: "auditor", headers: [JSON_TYPE], body: valid },
  { name: "no key", auth: false, headers: [JSON_TYPE], body: valid },
  { name: "a garbage key", auth: false, headers: [["authorization", "Bearer ank_x"], JSON_TYPE], body: valid },
  { name: "the key twice", auth: "twice", headers: [JSON_TYPE], body: valid },
  { name: "malformed JSON", headers: [JSON_TYPE], body: "{not json" },
  { name: "empty body", headers: [JSON_TYPE], body: "" },
  { name: "a UTF-8 BOM", headers: [JSON_TYPE], body: `\uFEFF${valid}` },
  { name: "no media type, a body", body: valid },
  { name: "no media type, no body", body: "" },
  { name: "text/plain", headers: [["content-type", "text/plain"]], body: valid },
  { name: "a bad media type parameter", headers: [["content-type", "application/json ;charset=utf-8"]], body: valid },
  { name: "the media type twice", headers: [JSON_TYPE, JSON_TYPE], body: valid },
  { name: "over 64 KiB, declared", headers: [JSON_TYPE], body: big },
  { name: "over 64 KiB, chunked", headers: [JSON_TYPE], body: { chunked: big } },
  {
    name: "schema violation",
    headers: [JSON_TYPE],
    body: JSON.stringify({ service: "stripe", scope: [], agent: "a" }),
  },
  {
    name: "unknown field",
    headers: [JSON_TYPE],
    body: JSON.stringify({ service: "stripe", scope: "read:customers", agent: "a", x: 1 }),
  },
  {
    name: "unknown service",
    headers: [JSON_TYPE],
    body: JSON.stringify({ service: "nope", scope: "read", agent: "a" }),
  },
  {
    name: "a TTL over the maximum",
    headers: [JSON_TYPE],
    body: JSON.stringify({ service: "stripe", scope: "read:customers", agent: "a", ttl: "30d" }),
  },
];

interface Answer {
  status: number;
  type: string | null;
  close: boolean;
  requestId: string | null;
  body: unknown;
}

// Ids, tokens and times differ between two issuances; everything else must be identical.
const VOLATILE = new Set(["id", "nonce", "request_id", "expires_at", "created_at"]);
function normalise(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalise);
  if (v === null || typeof v !== "object") return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, VOLATILE.has(k) ? "…" : normalise(x)]));
}

async function headersFor(c: Case): Promise<[string, string][]> {
  const pairs = [...(c.headers ?? [])];
  if (c.auth === false) return pairs;
  let key = h.adminKey;
  if (c.auth === "auditor") key = (await h.createKey("auditor")).key;
  if (c.auth === "approval") {
    const rule = { service: "stripe", scopes: ["read:customers"], approval: { required: true, timeout: "15m" } };
    key = (await h.createKey("issuer", { allow: [rule] })).key;
  }
  pairs.push(["authorization", `Bearer ${key}`]);
  if (c.auth === "twice") pairs.push(["authorization", `Bearer ${key}`]);
  return pairs;
}

const toAnswer = (status: number, get: (name: string) => string | null, text: string): Answer => {
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return {
    status,
    type: get("content-type"),
    close: get("connection") === "close",
    requestId: get("x-request-id"),
    body,
  };
};

/** Over a real socket, each header line as given (undici sends repeats as separate lines). */
async function overSocket(base: string, c: Case, pairs: [string, string][]): Promise<Answer> {
  const body = typeof c.body === "string" ? c.body : Readable.from([Buffer.from(c.body.chunked)]);
  const res = await request(base + (c.path ?? "/v1/nonces"), { method: "POST", headers: pairs.flat(), body });
  const text = await res.body.text();
  const one = (name: string) => {
    const v = res.headers[name];
    return v === undefined ? null : Array.isArray(v) ? v.join(", ") : v;
  };
  return toAnswer(res.statusCode, one, text);
}

/** In process: a WHATWG Request (repeated headers are joined, as on every Headers object). */
async function inProcess(c: Case, pairs: [string, string][]): Promise<Answer> {
  const headers = new Headers();
  for (const [k, v] of pairs) headers.append(k, v);
  // Bytes, not a string: a string body would give the Request a text/plain media type of its own.
  const bytes = new TextEncoder().encode(typeof c.body === "string" ? c.body : c.body.chunked);
  const body =
    typeof c.body === "string"
      ? bytes
      : new ReadableStream({
          start(ctl) {
            ctl.enqueue(bytes);
            ctl.close();
          },
        });
  const init = { method: "POST", headers, body, duplex: "half" } as RequestInit;
  const res = await h.app.request(c.path ?? "/v1/nonces", init);
  return toAnswer(res.status, (n) => res.headers.get(n), await res.text());
}

/** Answers the node:http entry point gave so far (agent_nonce_api_fast_path_total, all statuses). */
async function fastServed(): Promise<number> {
  return (await h.ctx.metrics.apiFastPath.get()).values.reduce((sum, v) => sum + v.value, 0);
}

describe("POST /v1/nonces answers alike on every entry point", () => {
  for (const c of cases) {
    it(c.name, async () => {
      const pairs = await headersFor(c);
      const served = await fastServed();
      const fast = await overSocket(fastBase, c, pairs);
      // Without these the comparison would pass just as well if Hono answered everything.
      expect(await fastServed()).toBe(served + 1);
      const hono = await overSocket(honoBase, c, pairs);
      const local = await inProcess(c, pairs);
      expect(await fastServed()).toBe(served + 1);

      for (const a of [fast, hono, local]) {
        expect(a.requestId).toMatch(/^req_/);
        if (a.status >= 400) expect((a.body as { error: { request_id: string } }).error.request_id).toBe(a.requestId);
      }
      const comparable = (a: Answer) => ({ ...a, requestId: undefined, body: normalise(a.body) });
      expect(comparable(hono)).toEqual(comparable(fast));
      expect(comparable(local)).toEqual(comparable(fast));
    });
  }

  it("counts its requests under the route pattern like the middleware does", async () => {
    const c: Case = { name: "issued", headers: [JSON_TYPE], body: valid };
    const res = await overSocket(fastBase, c, await headersFor(c));
    expect(res.status).toBe(201);
    const text = await h.ctx.metrics.registry.metrics();
    expect(text).toMatch(/agent_nonce_api_requests_total\{method="POST",route="\/v1\/nonces",status="201"\} 1/);
    expect(text).toMatch(/agent_nonce_api_fast_path_total\{status="201"\} 1/);
  });

  it("the node:http entry point takes only POST /v1/nonces, without touching anything else", () => {
    const { fastIssue } = createApi(h.ctx);
    const res = {} as ServerResponse;
    const req = (method: string, url: string) => ({ method, url, headers: {} }) as unknown as IncomingMessage;
    expect(fastIssue(req("GET", "/v1/nonces"), res)).toBe(false);
    expect(fastIssue(req("POST", "/v1/nonces/delegate"), res)).toBe(false);
    expect(fastIssue(req("POST", "/v1/noncesx"), res)).toBe(false);
    expect(fastIssue(req("POST", "/v1/nonces/"), res)).toBe(false);
  });
});
