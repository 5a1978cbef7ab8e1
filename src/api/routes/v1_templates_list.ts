import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { requireRole } from "../../app/auth.js";
import { listTemplates } from "../../templates/index.js";
import type { ApiDeps, ApiEnv } from "../env.js";
import { AuthSchema, bearer, jsonResponse, pickErrors } from "../schemas.js";

const TemplateSchema = z
  .object({
    name: z.string(),
    description: z.string(),
    source: z.string(),
    upstream: z.string().optional().openapi({ description: "Absent when the template names no fixed host (mcp)" }),
    auth: AuthSchema,
    auth_forms: z
      .array(
        z.object({
          type: AuthSchema.shape.type,
          description: z.string(),
          fields: z.array(z.string()),
          credential: z.array(z.string()),
          nonce: z.array(z.string()).optional(),
        }),
      )
      .optional()
      .openapi({
        description:
          "Auth kinds the template also supports (github: github_app), with the auth fields, credential fields and " +
          "per-nonce fields each needs. Choose one with `auth` in PUT /v1/services/{name}.",
      }),
    scopes: z.record(z.string(), z.array(z.string())),
  })
  .openapi("ServiceTemplate");

export const route = createRoute({
  method: "get",
  path: "/v1/templates",
  operationId: "listTemplates",
  tags: ["services"],
  summary: "Built-in service templates and their scopes",
  security: bearer,
  responses: {
    200: jsonResponse(z.object({ templates: z.array(TemplateSchema) }).openapi("TemplateList"), "Every template"),
    ...pickErrors(401, 403),
  },
});

export function register(app: OpenAPIHono<ApiEnv>, _deps: ApiDeps): void {
  app.openapi(route, (c) => {
    requireRole(c.get("caller").key, "admin", "issuer");
    return c.json({ templates: [...listTemplates()] }, 200);
  });
}
