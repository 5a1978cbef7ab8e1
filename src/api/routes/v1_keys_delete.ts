import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { revokeKey } from "../../app/keys.js";
import type { ApiDeps, ApiEnv } from "../env.js";
import { bearer, KeyId, pickErrors } from "../schemas.js";

export const route = createRoute({
  method: "delete",
  path: "/v1/keys/{id}",
  operationId: "revokeKey",
  tags: ["keys"],
  summary: "Revoke an API key (idempotent; a key cannot revoke itself: 409)",
  security: bearer,
  request: { params: z.object({ id: KeyId }) },
  responses: { 204: { description: "Revoked" }, ...pickErrors(400, 401, 403, 404, 409) },
});

export function register(app: OpenAPIHono<ApiEnv>, { ctx }: ApiDeps): void {
  app.openapi(route, async (c) => {
    await revokeKey(ctx, c.get("caller"), c.req.valid("param").id);
    return c.body(null, 204);
  });
}
