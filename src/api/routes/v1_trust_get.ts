import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { getTrust } from "../../app/trust.js";
import type { ApiDeps, ApiEnv } from "../env.js";
import { bearer, jsonResponse, pickErrors } from "../schemas.js";
import { TrustName, TrustView, trustView } from "../trust-schemas.js";

export const route = createRoute({
  method: "get",
  path: "/v1/trust/{name}",
  operationId: "getTrust",
  tags: ["trust"],
  summary: "One OIDC trust relationship (admin)",
  security: bearer,
  request: { params: z.object({ name: TrustName }) },
  responses: { 200: jsonResponse(TrustView, "The trust relationship"), ...pickErrors(400, 401, 403, 404) },
});

export function register(app: OpenAPIHono<ApiEnv>, { ctx }: ApiDeps): void {
  app.openapi(route, async (c) => {
    return c.json(trustView(await getTrust(ctx, c.get("caller"), c.req.valid("param").name)), 200);
  });
}
