import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { actorOf } from "../../app/audit-draft.js";
import type { ApiDeps, ApiEnv } from "../env.js";
import { bearer, jsonResponse, PolicySchema, pickErrors } from "../schemas.js";

/**
 * Who the caller is: any valid key or trusted OIDC token may ask. The console signs in with it (a wrong key is
 * the 401 every other route gives) and offers only what the role may do; the server still enforces every role.
 */
export const route = createRoute({
  method: "get",
  path: "/v1/whoami",
  operationId: "whoami",
  tags: ["keys"],
  summary: "The calling key's id, name, role and policy (never the key)",
  security: bearer,
  responses: {
    200: jsonResponse(
      z
        .object({
          id: z.string(),
          name: z.string(),
          type: z.enum(["api_key", "oidc"]).openapi({ description: "An API key or an OIDC caller (trust)" }),
          role: z.enum(["admin", "issuer", "auditor", "approver"]),
          policy: PolicySchema.nullable(),
        })
        .openapi("Whoami"),
      "The caller",
    ),
    ...pickErrors(401),
  },
});

export function register(app: OpenAPIHono<ApiEnv>, _deps: ApiDeps): void {
  app.openapi(route, (c) => {
    const { key } = c.get("caller");
    const actor = actorOf(key);
    return c.json(
      { id: key.id, name: key.name, type: actor.type as "api_key" | "oidc", role: key.role, policy: key.policy },
      200,
    );
  });
}
