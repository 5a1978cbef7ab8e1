import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { deleteTrust } from "../../app/trust.js";
import type { ApiDeps, ApiEnv } from "../env.js";
import { bearer, pickErrors } from "../schemas.js";
import { TrustName } from "../trust-schemas.js";

export const route = createRoute({
  method: "delete",
  path: "/v1/trust/{name}",
  operationId: "deleteTrust",
  tags: ["trust"],
  summary: "Delete an OIDC trust relationship (admin); its tokens are refused from then on",
  security: bearer,
  request: { params: z.object({ name: TrustName }) },
  responses: { 204: { description: "Deleted" }, ...pickErrors(400, 401, 403, 404) },
});

export function register(app: OpenAPIHono<ApiEnv>, { ctx }: ApiDeps): void {
  app.openapi(route, async (c) => {
    await deleteTrust(ctx, c.get("caller"), c.req.valid("param").name);
    return c.body(null, 204);
  });
}
