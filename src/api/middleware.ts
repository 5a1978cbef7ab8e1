import type { IncomingMessage } from "node:http";
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { routePath } from "hono/route";
import type { ApiKeyCache } from "../app/api-key-cache.js";
import { authenticate } from "../app/auth.js";
import type { AppContext } from "../app/context.js";
import { newId } from "../core/ids.js";
import type { ApiKeyStore, TrustStore } from "../store/store.js";
import { declaredTooLarge, MAX_BODY_BYTES, readIncoming } from "./body.js";
import type { ApiEnv } from "./env.js";
import { errorResponse } from "./errors.js";

/** Request id (always ours, never the client's, so logs cannot be spoofed) and the request counter. */
export function requestContext(ctx: AppContext<unknown>): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const requestId = newId("req", ctx.clock.now());
    c.set("requestId", requestId);
    // Set before the response exists: every response built on this context (errors included) carries it, and
    // touching a finished response's headers would force @hono/node-server off its fast path.
    c.header("X-Request-Id", requestId);
    try {
      await next();
    } finally {
      // The matched route pattern (bounded cardinality), never the raw path.
      const route = routePath(c, -1);
      ctx.metrics.apiRequests.inc({ method: c.req.method, route, status: String(c.res.status) });
    }
  };
}

/** The socket's address; forwarded headers are not trusted. */
export function sourceIp(c: { env: ApiEnv["Bindings"] | undefined }): string | null {
  return c.env?.incoming?.socket?.remoteAddress ?? null;
}

/** Authenticated by the parent nonce instead of an API key (src/app/delegate-nonce.ts). */
const DELEGATE_PATH = "/v1/nonces/delegate";

/** `POST` here is issuance: one handler (issue-handler.ts) for the Hono route and the node:http entry point. */
export const ISSUE_PATH = "/v1/nonces";

/** Issuance authenticates and reads its body itself, in the handler both its entry points share. */
const ownsBody = (c: Context<ApiEnv>) => c.req.method === "POST" && c.req.path === ISSUE_PATH;

export function requireApiKey(
  ctx: AppContext<ApiKeyStore & TrustStore>,
  keys?: ApiKeyCache,
): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    if (ownsBody(c) || (c.req.method === "POST" && c.req.path === DELEGATE_PATH)) return next();
    const key = await authenticate(ctx, c.req.header("authorization"), keys);
    c.set("caller", { key, sourceIp: sourceIp(c) });
    await next();
  };
}

function tooLarge(c: Context<ApiEnv>) {
  c.header("Connection", "close");
  return errorResponse(c, "payload_too_large", "request body is larger than 64 KiB");
}

/**
 * The 64 KiB body limit. On node:http the body is read straight from the IncomingMessage (with the limit
 * enforced while reading) and handed to Hono's body cache: building a WHATWG Request and stream per request
 * cost more than the rest of issuance. In-process (`app.request`) it is Hono's own bodyLimit.
 */
export function limitBody(): MiddlewareHandler<ApiEnv> {
  const fallback = bodyLimit({ maxSize: MAX_BODY_BYTES, onError: (c) => tooLarge(c as Context<ApiEnv>) });
  return async (c, next) => {
    const incoming = c.env?.incoming;
    if (ownsBody(c)) return next();
    if (!incoming) return fallback(c, next);
    const method = c.req.method;
    if (method === "GET" || method === "HEAD") return next();
    if (declaredTooLarge(c.req.header("content-length"))) return tooLarge(c);
    const body = await readIncoming(incoming, MAX_BODY_BYTES);
    if (body === null) return tooLarge(c);
    // If anything still builds a WHATWG Request, @hono/node-server uses rawBody instead of the consumed stream.
    (incoming as IncomingMessage & { rawBody?: Buffer }).rawBody = body;
    // Hono's type says values, its runtime holds promises (see HonoRequest#cachedBody).
    (c.req.bodyCache as Record<string, unknown>).text = Promise.resolve(body.toString("utf8"));
    return next();
  };
}
