import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { getNonceFor } from "../../app/nonce-query.js";
import type { ApiDeps, ApiEnv } from "../env.js";
import { bearer, jsonResponse, NonceId, NonceView, pickErrors } from "../schemas.js";
import { nonceView, withLineage } from "../views.js";

export const route = createRoute({
  method: "get",
  path: "/v1/nonces/{id}",
  operationId: "getNonce",
  tags: ["nonces"],
  summary: "A nonce's status (never its token)",
  security: bearer,
  request: { params: z.object({ id: NonceId }) },
  responses: { 200: jsonResponse(NonceView, "The nonce"), ...pickErrors(400, 401, 403, 404) },
});

export function register(app: OpenAPIHono<ApiEnv>, { ctx }: ApiDeps): void {
  app.openapi(route, async (c) => {
    const n = await getNonceFor(ctx, c.get("caller"), c.req.valid("param").id);
    const now = ctx.clock.now();
    const lineage = await withLineage([n], now, (r) => ctx.store.getNonceStatus(r.tokenKey, now));
    return c.json(nonceView(n, now, lineage), 200);
  });
}
