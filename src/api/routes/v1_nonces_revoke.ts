import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { revokeNoncesMatching } from "../../app/revoke.js";
import type { ApiDeps, ApiEnv } from "../env.js";
import { bearer, jsonBody, jsonResponse, Label, pickErrors, ServiceName } from "../schemas.js";

export const RevokeRequest = z
  .strictObject({
    task: Label("task").optional(),
    agent: Label("agent").optional(),
    service: ServiceName.optional(),
  })
  .refine((b) => b.task !== undefined || b.agent !== undefined || b.service !== undefined, {
    message: "name at least one of task, agent or service",
  })
  .openapi("RevokeNoncesRequest");

export const route = createRoute({
  method: "post",
  path: "/v1/nonces/revoke",
  operationId: "revokeNonces",
  tags: ["nonces"],
  summary: "Revoke every live nonce of a task, agent or service",
  security: bearer,
  request: { body: jsonBody(RevokeRequest) },
  responses: {
    200: jsonResponse(z.object({ revoked: z.number().int() }).openapi("RevokeNoncesResponse"), "How many were revoked"),
    ...pickErrors(400, 401, 403, 413),
  },
});

export function register(app: OpenAPIHono<ApiEnv>, { ctx }: ApiDeps): void {
  app.openapi(route, async (c) => {
    const revoked = await revokeNoncesMatching(ctx, c.get("caller"), c.req.valid("json"));
    return c.json({ revoked }, 200);
  });
}
