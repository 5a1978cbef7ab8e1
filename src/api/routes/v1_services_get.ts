import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { getServiceFor } from "../../app/services.js";
import type { ApiDeps, ApiEnv } from "../env.js";
import { bearer, jsonResponse, pickErrors, ServiceName, ServiceView } from "../schemas.js";
import { serviceView } from "../views.js";

export const route = createRoute({
  method: "get",
  path: "/v1/services/{name}",
  operationId: "getService",
  tags: ["services"],
  summary: "One service, without any secret",
  security: bearer,
  request: { params: z.object({ name: ServiceName }) },
  responses: { 200: jsonResponse(ServiceView, "The service"), ...pickErrors(400, 401, 403, 404) },
});

export function register(app: OpenAPIHono<ApiEnv>, { ctx }: ApiDeps): void {
  app.openapi(route, async (c) => {
    const s = await getServiceFor(ctx, c.get("caller"), c.req.valid("param").name);
    return c.json(serviceView(s), 200);
  });
}
