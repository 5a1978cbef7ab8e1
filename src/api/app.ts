import { OpenAPIHono } from "@hono/zod-openapi";
import { createApiKeyCache } from "../app/api-key-cache.js";
import { type AuditRuntime, startAuditRuntime } from "../app/audit-runtime.js";
import type { AppContext } from "../app/context.js";
import { createServiceCache } from "../app/service-cache.js";
import { registerConsole } from "./console.js";
import type { ApiEnv } from "./env.js";
import { errorResponse, onApiError, validationHook } from "./errors.js";
import { createFastIssue, type FastPath } from "./fast-issue.js";
import { createIssueHandler } from "./issue-handler.js";
import { limitBody, requestContext, requireApiKey } from "./middleware.js";
import { ROUTES } from "./routes/index.js";

export interface ApiOptions {
  audit?: AuditRuntime;
  /** The built console's folder (tests); default dist/console beside this module. */
  consoleDir?: string;
}

/**
 * The control-plane application. Unauthenticated: /healthz, /readyz, /openapi.json, /metrics, the console's static
 * files (/console; it signs in with an API key against /v1). Everything under /v1 needs an API key (checked before
 * the body is read), then the 64 KiB body limit, then per-route validation; roles are enforced by the use cases in
 * src/app.
 */
export function createApiApp(ctx: AppContext, opts: ApiOptions = {}): OpenAPIHono<ApiEnv> {
  return createApi(ctx, opts).app;
}

/** The Hono app and the node:http entry point for `POST /v1/nonces`, sharing one issuance handler. */
export function createApi(ctx: AppContext, opts: ApiOptions = {}): { app: OpenAPIHono<ApiEnv>; fastIssue: FastPath } {
  const app = new OpenAPIHono<ApiEnv>({ defaultHook: validationHook });
  let audit: Promise<AuditRuntime> | undefined = opts.audit ? Promise.resolve(opts.audit) : undefined;
  const keys = createApiKeyCache(ctx);
  const services = createServiceCache(ctx);
  // One issuance handler for both entry points: the Hono route below and the node:http listener.
  const issue = createIssueHandler(ctx, keys, services);
  const deps = { ctx, services, issue, audit: () => (audit ??= startAuditRuntime(ctx)) };
  app.use("*", requestContext(ctx));
  app.use("/v1/*", requireApiKey(ctx, keys), limitBody());
  for (const m of ROUTES) m.register(app, deps);
  registerConsole(app, opts.consoleDir);
  // The path is not echoed: a mistyped URL may carry a token.
  app.notFound((c) => errorResponse(c, "not_found", "no such route"));
  app.onError(onApiError(ctx));
  return { app, fastIssue: createFastIssue(ctx, issue) };
}
