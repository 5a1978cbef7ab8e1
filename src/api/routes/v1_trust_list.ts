import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { listTrusts } from "../../app/trust.js";
import type { ApiDeps, ApiEnv } from "../env.js";
import { bearer, jsonResponse, pickErrors } from "../schemas.js";
import { TrustView, trustView } from "../trust-schemas.js";

export const route = createRoute({
  method: "get",
  path: "/v1/trust",
  operationId: "listTrust",
  tags: ["trust"],
  summary: "OIDC trust relationships (admin)",
  security: bearer,
  responses: {
    200: jsonResponse(
      z.object({ trust: z.array(TrustView) }).openapi("TrustList"),
      "Every trust relationship, by name",
    ),
    ...pickErrors(401, 403),
  },
});

export function register(app: OpenAPIHono<ApiEnv>, { ctx }: ApiDeps): void {
  app.openapi(route, async (c) => {
    const list = await listTrusts(ctx, c.get("caller"));
    return c.json({ trust: list.map(trustView) }, 200);
  });
}
