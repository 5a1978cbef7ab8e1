import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { ApiDeps, ApiEnv } from "../env.js";
import { openApiDocument } from "../openapi.js";

export const route = createRoute({
  method: "get",
  path: "/openapi.json",
  operationId: "openapi",
  tags: ["operations"],
  summary: "This document (OpenAPI 3.1)",
  responses: {
    200: {
      description: "OpenAPI 3.1 document",
      content: { "application/json": { schema: z.record(z.string(), z.unknown()) } },
    },
  },
});

export function register(app: OpenAPIHono<ApiEnv>, _deps: ApiDeps): void {
  app.openapi(route, (c) => c.json(openApiDocument() as Record<string, unknown>, 200));
}
