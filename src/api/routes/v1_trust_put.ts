import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { putTrust } from "../../app/trust.js";
import type { IssuerPolicy } from "../../core/types.js";
import type { ApiDeps, ApiEnv } from "../env.js";
import { bearer, jsonBody, jsonResponse, pickErrors } from "../schemas.js";
import { PutTrustRequest, TrustName, TrustView, trustView } from "../trust-schemas.js";

export const route = createRoute({
  method: "put",
  path: "/v1/trust/{name}",
  operationId: "putTrust",
  tags: ["trust"],
  summary: "Create or replace an OIDC trust relationship (admin): whose JWTs act with which role and policy",
  security: bearer,
  request: { params: z.object({ name: TrustName }), body: jsonBody(PutTrustRequest) },
  responses: {
    200: jsonResponse(TrustView, "The trust relationship"),
    ...pickErrors(400, 401, 403, 413),
  },
});

export function register(app: OpenAPIHono<ApiEnv>, { ctx }: ApiDeps): void {
  app.openapi(route, async (c) => {
    const body = c.req.valid("json");
    const t = await putTrust(ctx, c.get("caller"), c.req.valid("param").name, {
      ...body,
      policy: body.policy as IssuerPolicy | undefined,
    });
    return c.json(trustView(t), 200);
  });
}
