import { OpenAPIHono } from "@hono/zod-openapi";
import { ROUTES } from "./routes/index.js";

/**
 * The OpenAPI 3.1 document, generated from the same zod schemas that validate requests. Built without an
 * AppContext (route definitions are static), so tests and tooling can produce it; docs/openapi.json is its
 * checked-in copy and a test fails when the two differ.
 */
let cached: object | null = null;

export function openApiDocument(): object {
  if (cached) return cached;
  const app = new OpenAPIHono();
  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    description: "An API key: `Authorization: Bearer ank_…`",
  });
  for (const m of ROUTES) app.openAPIRegistry.registerPath(m.route);
  cached = app.getOpenAPI31Document({
    openapi: "3.1.0",
    info: {
      title: "Agent Nonce control plane",
      version: "1.0.0",
      description:
        "Issue, revoke and audit short-lived, scoped nonces for AI agents. Errors: " +
        '`{"error": {"code", "message", "request_id"}}` with an `X-Request-Id` header.',
    },
    tags: [{ name: "nonces" }, { name: "services" }, { name: "keys" }, { name: "audit" }, { name: "operations" }],
  });
  return cached;
}
