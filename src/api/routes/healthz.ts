import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { ApiDeps, ApiEnv } from "../env.js";
import { errorResponse } from "../errors.js";
import { pickErrors } from "../schemas.js";

export const route = createRoute({
  method: "get",
  path: "/healthz",
  operationId: "health",
  tags: ["operations"],
  summary: "Liveness and store reachability (503 when the store does not answer)",
  responses: {
    200: {
      content: { "application/json": { schema: z.object({ status: z.literal("ok"), store: z.string() }) } },
      description: "Healthy",
    },
    ...pickErrors(503),
  },
});

export function register(app: OpenAPIHono<ApiEnv>, { ctx }: ApiDeps): void {
  app.openapi(route, async (c) => {
    try {
      await ctx.store.ping();
    } catch (e) {
      ctx.log.warn({ err: (e as Error).message }, "health check: store ping failed");
      return errorResponse(c, "unavailable", "store is unavailable") as never;
    }
    return c.json({ status: "ok" as const, store: ctx.store.dialect }, 200);
  });
}
