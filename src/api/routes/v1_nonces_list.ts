import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { listNoncesFor } from "../../app/nonce-query.js";
import type { ApiDeps, ApiEnv } from "../env.js";
import {
  bearer,
  Cursor,
  jsonResponse,
  Label,
  Limit,
  NonceStatusSchema,
  NonceView,
  pickErrors,
  ServiceName,
} from "../schemas.js";
import { nonceView, withLineage } from "../views.js";

export const route = createRoute({
  method: "get",
  path: "/v1/nonces",
  operationId: "listNonces",
  tags: ["nonces"],
  summary: "List nonces, newest first",
  security: bearer,
  request: {
    query: z.object({
      agent: Label("agent").optional(),
      task: Label("task").optional(),
      service: ServiceName.optional(),
      status: NonceStatusSchema.optional(),
      limit: Limit,
      cursor: Cursor,
    }),
  },
  responses: {
    200: jsonResponse(
      z.object({ nonces: z.array(NonceView), next_cursor: z.string().nullable() }).openapi("NonceList"),
      "A page of nonces",
    ),
    ...pickErrors(400, 401, 403),
  },
});

export function register(app: OpenAPIHono<ApiEnv>, { ctx }: ApiDeps): void {
  app.openapi(route, async (c) => {
    const { limit, cursor, ...filter } = c.req.valid("query");
    const page = await listNoncesFor(ctx, c.get("caller"), filter, { limit, cursor });
    const now = ctx.clock.now();
    const lineage = await withLineage(page.items, now, (r) => ctx.store.getNonceStatus(r.tokenKey, now));
    return c.json({ nonces: page.items.map((n) => nonceView(n, now, lineage)), next_cursor: page.nextCursor }, 200);
  });
}
