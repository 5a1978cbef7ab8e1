import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { taskReport } from "../../app/task-report.js";
import { publicEvent } from "../../core/audit-chain.js";
import type { ApiDeps, ApiEnv } from "../env.js";
import { bearer, Cursor, jsonResponse, Label, Limit, NonceView, pickErrors } from "../schemas.js";
import { nonceView, withLineage } from "../views.js";
import { AuditEventSchema } from "./v1_audit_list.js";

export const route = createRoute({
  method: "get",
  path: "/v1/tasks/{task}",
  operationId: "getTask",
  tags: ["audit"],
  summary: "What happened in one task: its nonces and its audit events, in order (issuers: their own nonces)",
  security: bearer,
  request: {
    params: z.object({ task: Label("task") }),
    query: z.object({ limit: Limit, cursor: Cursor.openapi({ description: "Continues the events list" }) }),
  },
  responses: {
    200: jsonResponse(
      z
        .object({
          task: z.string(),
          nonces: z.array(NonceView).openapi({ description: "Oldest first, at most 1000" }),
          nonces_truncated: z.boolean(),
          events: z.array(AuditEventSchema),
          next_cursor: z.string().nullable(),
        })
        .openapi("TaskReport"),
      "The task's nonces and a page of its events",
    ),
    ...pickErrors(400, 401, 403),
  },
});

export function register(app: OpenAPIHono<ApiEnv>, { ctx }: ApiDeps): void {
  app.openapi(route, async (c) => {
    const { task } = c.req.valid("param");
    const { limit, cursor } = c.req.valid("query");
    const r = await taskReport(ctx, c.get("caller"), task, { limit, cursor });
    const now = ctx.clock.now();
    const lineage = await withLineage(r.nonces, now, (n) => ctx.store.getNonceStatus(n.tokenKey, now));
    return c.json(
      {
        task,
        nonces: r.nonces.map((n) => nonceView(n, now, lineage)),
        nonces_truncated: r.noncesTruncated,
        events: r.events.items.map((e) => publicEvent(e)) as z.infer<typeof AuditEventSchema>[],
        next_cursor: r.events.nextCursor,
      },
      200,
    );
  });
}
