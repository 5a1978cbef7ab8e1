import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { listKeys } from "../../app/keys.js";
import type { ApiDeps, ApiEnv } from "../env.js";
import { bearer, jsonResponse, KeyView, pickErrors } from "../schemas.js";
import { keyView } from "../views.js";

export const route = createRoute({
  method: "get",
  path: "/v1/keys",
  operationId: "listKeys",
  tags: ["keys"],
  summary: "API keys (never the keys themselves)",
  security: bearer,
  responses: {
    200: jsonResponse(z.object({ keys: z.array(KeyView) }).openapi("KeyList"), "Every API key, revoked ones included"),
    ...pickErrors(401, 403),
  },
});

export function register(app: OpenAPIHono<ApiEnv>, { ctx }: ApiDeps): void {
  app.openapi(route, async (c) => {
    const keys = await listKeys(ctx, c.get("caller"));
    return c.json({ keys: keys.map(keyView) }, 200);
  });
}
