import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { putService } from "../../app/services.js";
import type { ApiDeps, ApiEnv } from "../env.js";
import {
  AuthSchema,
  AwsEndpointsSchema,
  AwsServiceSchema,
  bearer,
  jsonBody,
  jsonResponse,
  pickErrors,
  ServiceName,
  ServiceView,
} from "../schemas.js";
import { serviceView } from "../views.js";

export const PutServiceRequest = z
  .strictObject({
    template: z.string().max(64).optional().openapi({ example: "stripe" }),
    upstream: z.string().max(2048).optional().openapi({ example: "https://api.stripe.com" }),
    auth: AuthSchema.optional(),
    scopes: z
      .record(z.string().max(100), z.array(z.string().max(300)).min(1).max(200))
      .refine((s) => Object.keys(s).length <= 500, { message: "at most 500 scopes" })
      .optional()
      .openapi({ example: { "read:customers": ["GET /v1/customers", "GET /v1/customers/{id}"] } }),
    insecure_upstream: z.boolean().optional(),
    aws: AwsServiceSchema.optional(),
    endpoints: AwsEndpointsSchema.optional(),
  })
  .openapi("PutServiceRequest");

export const route = createRoute({
  method: "put",
  path: "/v1/services/{name}",
  operationId: "putService",
  tags: ["services"],
  summary: "Create or replace a service (a template fills upstream, auth and scopes; explicit fields override)",
  security: bearer,
  request: { params: z.object({ name: ServiceName }), body: jsonBody(PutServiceRequest) },
  responses: {
    200: jsonResponse(ServiceView, "The service, without any secret"),
    ...pickErrors(400, 401, 403, 404, 413),
  },
});

export function register(app: OpenAPIHono<ApiEnv>, { ctx }: ApiDeps): void {
  app.openapi(route, async (c) => {
    const s = await putService(ctx, c.get("caller"), c.req.valid("param").name, c.req.valid("json"));
    return c.json(serviceView(s), 200);
  });
}
