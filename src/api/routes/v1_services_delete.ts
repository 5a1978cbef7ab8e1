import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { deleteService } from "../../app/services.js";
import type { ApiDeps, ApiEnv } from "../env.js";
import { bearer, pickErrors, ServiceName } from "../schemas.js";

export const route = createRoute({
  method: "delete",
  path: "/v1/services/{name}",
  operationId: "deleteService",
  tags: ["services"],
  summary: "Delete a service and revoke its live nonces",
  security: bearer,
  request: { params: z.object({ name: ServiceName }) },
  responses: { 204: { description: "Deleted" }, ...pickErrors(400, 401, 403, 404) },
});

export function register(app: OpenAPIHono<ApiEnv>, { ctx }: ApiDeps): void {
  app.openapi(route, async (c) => {
    await deleteService(ctx, c.get("caller"), c.req.valid("param").name);
    return c.body(null, 204);
  });
}
