import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { routePath } from "hono/route";
import { authenticate } from "../app/auth.js";
import type { AppContext } from "../app/context.js";
import { newId } from "../core/ids.js";
import type { ApiEnv } from "./env.js";
import { errorResponse } from "./errors.js";

export const MAX_BODY_BYTES = 64 * 1024;

/** Request id (always ours, never the client's, so logs cannot be spoofed) and the request counter. */
export function requestContext(ctx: AppContext): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const requestId = newId("req", ctx.clock.now());
    c.set("requestId", requestId);
    try {
      await next();
    } finally {
      c.header("X-Request-Id", requestId);
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

export function requireApiKey(ctx: AppContext): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const key = await authenticate(ctx, c.req.header("authorization"));
    c.set("caller", { key, sourceIp: sourceIp(c) });
    await next();
  };
}

export function limitBody(): MiddlewareHandler<ApiEnv> {
  return bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: (c) => errorResponse(c as never, "payload_too_large", "request body is larger than 64 KiB"),
  });
}
