import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { checkReadiness } from "../../app/readiness.js";
import type { ApiDeps, ApiEnv } from "../env.js";
import { errorResponse } from "../errors.js";
import { pickErrors } from "../schemas.js";

export const route = createRoute({
  method: "get",
  path: "/readyz",
  operationId: "ready",
  tags: ["operations"],
  summary: "Readiness: 200 only when the store answers and every migration is applied (503 otherwise)",
  responses: {
    200: {
      content: { "application/json": { schema: z.object({ status: z.literal("ready"), store: z.string() }) } },
      description: "Ready to take traffic",
    },
    ...pickErrors(503),
  },
});

export function register(app: OpenAPIHono<ApiEnv>, { ctx }: ApiDeps): void {
  app.openapi(route, async (c) => {
    const r = await checkReadiness(ctx.store);
    if (!r.ready) {
      ctx.log.warn({ reason: r.reason }, "readiness check failed");
      const message = r.reason === "store_unreachable" ? "store is unavailable" : "store schema is not current";
      return errorResponse(c, "unavailable", message) as never;
    }
    return c.json({ status: "ready" as const, store: ctx.store.dialect }, 200);
  });
}
