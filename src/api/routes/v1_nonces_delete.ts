import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { revokeNonceById } from "../../app/revoke.js";
import type { ApiDeps, ApiEnv } from "../env.js";
import { bearer, NonceId, pickErrors } from "../schemas.js";

export const route = createRoute({
  method: "delete",
  path: "/v1/nonces/{id}",
  operationId: "revokeNonce",
  tags: ["nonces"],
  summary: "Revoke one nonce (idempotent)",
  security: bearer,
  request: { params: z.object({ id: NonceId }) },
  responses: { 204: { description: "Revoked" }, ...pickErrors(400, 401, 403, 404) },
});

export function register(app: OpenAPIHono<ApiEnv>, { ctx }: ApiDeps): void {
  app.openapi(route, async (c) => {
    await revokeNonceById(ctx, c.get("caller"), c.req.valid("param").id);
    return c.body(null, 204);
  });
}
