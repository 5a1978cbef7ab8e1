import type { HttpBindings } from "@hono/node-server";
import type { Caller } from "../app/audit-draft.js";
import type { AuditRuntime } from "../app/audit-runtime.js";
import type { AppContext } from "../app/context.js";
import type { ServiceCache } from "../app/service-cache.js";
import type { IssueHandler } from "./issue-handler.js";

/** Per-request variables set by the middleware in middleware.ts. */
export interface ApiEnv {
  // Absent for in-process `app.request()` calls; present when served by @hono/node-server.
  Bindings: Partial<HttpBindings>;
  Variables: {
    requestId: string;
    caller: Caller;
  };
}

/** What every route registration receives: built once by createApiApp. */
export interface ApiDeps {
  ctx: AppContext;
  services: ServiceCache;
  /** `POST /v1/nonces`, shared by the Hono route and the node:http entry point (issue-handler.ts). */
  issue: IssueHandler;
  /** The audit runtime (signing key, checkpoints, live feed); started on first use when none was given. */
  audit(): Promise<AuditRuntime>;
}
