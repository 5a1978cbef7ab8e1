import { AgentNonceError, isErrorCode } from "./errors.js";
import type { FetchLike } from "./http.js";

/**
 * The pieces every agent integration shares (the `agent-nonce mcp` server, the LangChain.js and AI SDK adapters):
 * read a nonce's own view from the gateway, send one tool call through the gateway, and put the answer in words a
 * model can read. A refusal is a value carrying the gateway's `code`, never an exception, so a tool call that the
 * nonce does not allow is a tool error the model can see, not a crash. The nonce itself never appears in anything
 * returned here.
 */

/** Where and with what to call the gateway. `nonce` is the `an_…` token; it stays inside these functions. */
export interface GatewayTarget {
  gatewayUrl: string;
  nonce: string;
  fetch?: FetchLike;
  /** Longest response body handed back, in characters (default 100 000); longer ones are cut and marked. */
  maxBodyChars?: number;
}

/** `GET /.well-known/agent-nonce`: what the presented nonce allows. */
export interface NonceView {
  service: string;
  routes: string[];
  constraints: Record<string, unknown> | null;
  expiresAt: Date;
  /** null: no use limit. */
  usesLeft: number | null;
}

export type ToolQueryValue = string | number | boolean;

/** A tool call's input, the same for every integration (`<service>_request`). */
export interface ToolRequest {
  method: string;
  /** Path on the service, with or without a query string, e.g. `/v1/customers`. */
  path: string;
  query?: Record<string, ToolQueryValue | ToolQueryValue[]>;
  /** A string is sent as is; anything else as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
}

export interface ToolResponse {
  /** HTTP status; 0 when no request was sent (bad input, gateway unreachable). */
  status: number;
  contentType: string | null;
  body: string;
  truncated: boolean;
  /** Set when the gateway refused (its `code`) or the call could not be made; the upstream's own 4xx/5xx is not. */
  error: { code: string; message: string } | null;
}

export const TOOL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] as const;

/** JSON Schema of ToolRequest, for frameworks that take one. */
export const TOOL_REQUEST_JSON_SCHEMA = {
  type: "object",
  properties: {
    method: { type: "string", enum: [...TOOL_METHODS], description: "HTTP method" },
    path: { type: "string", description: "Path on the service, starting with /, e.g. /v1/customers" },
    query: {
      type: "object",
      description: "Query parameters",
      additionalProperties: {
        anyOf: [
          { type: ["string", "number", "boolean"] },
          { type: "array", items: { type: ["string", "number", "boolean"] } },
        ],
      },
    },
    body: { description: "Request body: a JSON value (sent as JSON) or a string (sent as is)" },
    headers: { type: "object", description: "Extra request headers", additionalProperties: { type: "string" } },
  },
  required: ["method", "path"],
  additionalProperties: false,
} as const;

/** Headers a tool call may not set: credential carriers (the nonce is added here, the real key by the gateway). */
const DROPPED_HEADERS: ReadonlySet<string> = new Set([
  "authorization",
  "proxy-authorization",
  "x-agent-nonce",
  "cookie",
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
]);

const DEFAULT_MAX_BODY_CHARS = 100_000;

function base(target: GatewayTarget): URL {
  let u: URL;
  try {
    u = new URL(target.gatewayUrl);
  } catch {
    throw new AgentNonceError("invalid_request", "gatewayUrl must be an absolute http(s) URL");
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new AgentNonceError("invalid_request", "gatewayUrl must be an absolute http(s) URL");
  }
  return u;
}

/**
 * Builds the URL on the gateway, and only there: a path that would change the origin (`//host`, a scheme, a
 * backslash) is refused, so a model cannot make the nonce travel anywhere but the gateway.
 */
function gatewayUrlFor(target: GatewayTarget, path: string, query: ToolRequest["query"]): URL | string {
  if (typeof path !== "string" || !path.startsWith("/") || path.startsWith("//") || /[\\#\s]/.test(path)) {
    return "path must start with a single / and contain no spaces, backslashes or #";
  }
  const b = base(target);
  const prefix = b.href.replace(/\/+$/, "");
  const url = new URL(prefix + path);
  if (url.origin !== b.origin) return "path must stay on the gateway";
  for (const [k, v] of Object.entries(query ?? {})) {
    for (const item of Array.isArray(v) ? v : [v]) url.searchParams.append(k, String(item));
  }
  return url;
}

function errorFrom(status: number, code: string, text: string): { code: string; message: string } {
  let message = `the gateway refused the request (HTTP ${status})`;
  try {
    const m = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
    if (typeof m === "string") message = m;
  } catch {
    // not JSON: keep the generic message
  }
  return { code, message };
}

function decodeBody(bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return `[binary body: ${bytes.byteLength} bytes]`;
  }
}

const fail = (code: string, message: string): ToolResponse => ({
  status: 0,
  contentType: null,
  body: "",
  truncated: false,
  error: { code, message },
});

/** One tool call through the gateway. Never throws for a refusal, bad input or an unreachable gateway. */
export async function gatewayRequest(target: GatewayTarget, req: ToolRequest): Promise<ToolResponse> {
  const method = String(req.method ?? "").toUpperCase();
  if (!(TOOL_METHODS as readonly string[]).includes(method)) {
    return fail("invalid_request", `method must be one of ${TOOL_METHODS.join(", ")}`);
  }
  let url: URL | string;
  try {
    url = gatewayUrlFor(target, req.path, req.query);
  } catch (e) {
    return fail("invalid_request", e instanceof AgentNonceError ? e.message : "path is not a valid URL path");
  }
  if (typeof url === "string") return fail("invalid_request", url);
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers ?? {})) {
    if (DROPPED_HEADERS.has(k.toLowerCase())) continue;
    try {
      headers.set(k, String(v));
    } catch {
      return fail("invalid_request", `header ${JSON.stringify(k)} is not valid`);
    }
  }
  let body: string | undefined;
  if (req.body !== undefined && req.body !== null) {
    if (method === "GET" || method === "HEAD") return fail("invalid_request", `${method} takes no body`);
    if (typeof req.body === "string") body = req.body;
    else {
      body = JSON.stringify(req.body);
      if (!headers.has("content-type")) headers.set("content-type", "application/json");
    }
  }
  headers.set("authorization", `Bearer ${target.nonce}`);
  const doFetch = target.fetch ?? ((input, init) => globalThis.fetch(input, init));
  let res: Response;
  let bytes: Uint8Array;
  try {
    res = await doFetch(url.href, { method, headers, ...(body === undefined ? {} : { body }), redirect: "manual" });
    bytes = new Uint8Array(await res.arrayBuffer());
  } catch {
    return fail("unavailable", "the gateway could not be reached");
  }
  // The gateway strips the nonce before forwarding, so no upstream can echo it; this is a second line of defence.
  let text = decodeBody(bytes).replaceAll(target.nonce, "[redacted]");
  const contentType = res.headers.get("content-type");
  const code = res.headers.get("x-agent-nonce-error");
  if (code)
    return { status: res.status, contentType, body: "", truncated: false, error: errorFrom(res.status, code, text) };
  const max = target.maxBodyChars ?? DEFAULT_MAX_BODY_CHARS;
  const truncated = text.length > max;
  if (truncated) text = text.slice(0, max);
  return { status: res.status, contentType, body: text, truncated, error: null };
}

/** The nonce's own view. A dead or unknown nonce throws AgentNonceError with the gateway's code (e.g. `nonce_expired`). */
export async function fetchNonceView(target: GatewayTarget): Promise<NonceView> {
  const r = await gatewayRequest(target, { method: "GET", path: "/.well-known/agent-nonce" });
  if (r.error) {
    const code = isErrorCode(r.error.code) ? r.error.code : "internal";
    throw new AgentNonceError(code, r.error.message, { status: r.status });
  }
  let w: Record<string, unknown>;
  try {
    w = JSON.parse(r.body) as Record<string, unknown>;
  } catch {
    throw new AgentNonceError("internal", "the gateway's nonce view is not JSON", { status: r.status });
  }
  if (r.status !== 200 || typeof w.service !== "string" || !Array.isArray(w.routes)) {
    throw new AgentNonceError("internal", "the gateway did not answer the nonce view", { status: r.status });
  }
  return {
    service: w.service,
    routes: w.routes.filter((x): x is string => typeof x === "string"),
    constraints: (w.constraints as Record<string, unknown> | null) ?? null,
    expiresAt: new Date(String(w.expires_at)),
    usesLeft: typeof w.uses_left === "number" ? w.uses_left : null,
  };
}

/** A tool name from a service name: MCP and most model APIs accept `[A-Za-z0-9_-]{1,64}`. */
export function toolName(service: string, suffix: "request" | "scopes"): string {
  const s = service.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 64 - suffix.length - 1);
  return `${s}_${suffix}`;
}

/** The request tool's description: what the service is and exactly which routes the nonce allows. */
export function describeRequestTool(view: NonceView): string {
  const lines = [
    `Call the ${view.service} API through the Agent Nonce gateway (the credential is added for you; never send one).`,
    "Allowed routes ({x} is one path segment, ** the rest of the path; anything else is refused with scope_denied):",
    ...view.routes.map((r) => `- ${r}`),
  ];
  if (view.constraints) lines.push(`Constraints on fields: ${JSON.stringify(view.constraints)}`);
  lines.push(`Access expires at ${view.expiresAt.toISOString()}.`);
  if (view.usesLeft !== null) lines.push(`At most ${view.usesLeft} calls left.`);
  return lines.join("\n");
}

/** A tool response as text for a model: the refusal with its code, or status, content type and body. */
export function formatToolResponse(r: ToolResponse): string {
  if (r.error) return `${r.error.code}: ${r.error.message}${r.status ? ` (HTTP ${r.status})` : ""}`;
  const head = [`HTTP ${r.status}`, ...(r.contentType ? [`content-type: ${r.contentType}`] : [])];
  return `${head.join("\n")}\n\n${r.body}${r.truncated ? "\n[body truncated]" : ""}`;
}

/** The view as JSON a model reads (snake_case like the wire). */
export function nonceViewJson(view: NonceView): Record<string, unknown> {
  return {
    service: view.service,
    routes: view.routes,
    constraints: view.constraints,
    expires_at: view.expiresAt.toISOString(),
    uses_left: view.usesLeft,
  };
}

/**
 * What a framework adapter does before it builds its tool: issue the nonce, point a target at its gateway, and read
 * what it allows (for the tool's description). A nonce whose view cannot be read is revoked again before the error
 * is rethrown, so a failed set-up never leaves a live nonce behind.
 */
export async function openToolNonce<N extends { nonce: string; gatewayUrl: string; revoke(): Promise<unknown> }>(
  issue: () => Promise<N>,
  maxBodyChars?: number,
): Promise<{ nonce: N; target: GatewayTarget; view: NonceView }> {
  const nonce = await issue();
  const target: GatewayTarget = {
    gatewayUrl: nonce.gatewayUrl,
    nonce: nonce.nonce,
    ...(maxBodyChars === undefined ? {} : { maxBodyChars }),
  };
  try {
    return { nonce, target, view: await fetchNonceView(target) };
  } catch (e) {
    await nonce.revoke().catch(() => undefined);
    throw e;
  }
}
