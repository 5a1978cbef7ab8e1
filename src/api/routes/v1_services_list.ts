import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { listServicesFor } from "../../app/services.js";
import type { ApiDeps, ApiEnv } from "../env.js";
import { bearer, jsonResponse, pickErrors, ServiceView } from "../schemas.js";
import { serviceView } from "../views.js";

export const route = createRoute({
  method: "get",
  path: "/v1/services",
  operationId: "listServices",
  tags: ["services"],
  summary: "Services (issuers see the ones their policy names)",
  security: bearer,
  responses: {
    200: jsonResponse(z.object({ services: z.array(ServiceView) }).openapi("ServiceList"), "Every visible service"),
    ...pickErrors(401, 403),
  },
});

export function register(app: OpenAPIHono<ApiEnv>, { ctx }: ApiDeps): void {
  app.openapi(route, async (c) => {
    const services = await listServicesFor(ctx, c.get("caller"));
    return c.json({ services: services.map(serviceView) }, 200);
  });
}
