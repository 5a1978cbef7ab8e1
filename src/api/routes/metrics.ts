import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { ApiDeps, ApiEnv } from "../env.js";

export const route = createRoute({
  method: "get",
  path: "/metrics",
  operationId: "metrics",
  tags: ["operations"],
  summary: "Prometheus metrics (text exposition format)",
  responses: { 200: { description: "Metrics", content: { "text/plain": { schema: z.string() } } } },
});

export function register(app: OpenAPIHono<ApiEnv>, { ctx }: ApiDeps): void {
  app.openapi(route, async (c) => {
    const text = await ctx.metrics.registry.metrics();
    return c.text(text, 200, { "Content-Type": ctx.metrics.registry.contentType });
  });
}
