import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { requireWholeTrail } from "../../app/audit-query.js";
import { publicEvent } from "../../core/audit-chain.js";
import type { ApiDeps, ApiEnv } from "../env.js";
import { bearer, pickErrors } from "../schemas.js";
import { AuditTime } from "./v1_audit_list.js";

const PAGE = 1000;

export const route = createRoute({
  method: "get",
  path: "/v1/audit/export",
  operationId: "exportAudit",
  tags: ["audit"],
  summary: "Every event (or a time window) as JSON lines, oldest first (admin, auditor)",
  description:
    "One public event per line, exactly the fields the chain hashes plus `hash`, so a SIEM can re-verify the " +
    "chain from the first line's `prev_hash`. Streamed page by page: memory does not grow with the trail.",
  security: bearer,
  request: {
    query: z.object({
      format: z.enum(["jsonl"]).default("jsonl"),
      since: AuditTime.optional().openapi({ description: "Inclusive lower bound" }),
      until: AuditTime.optional().openapi({ description: "Exclusive upper bound" }),
    }),
  },
  responses: {
    200: {
      content: { "application/x-ndjson": { schema: z.string().openapi({ description: "One AuditEvent per line" }) } },
      description: "JSON lines",
    },
    ...pickErrors(400, 401, 403),
  },
});

export function register(app: OpenAPIHono<ApiEnv>, { ctx }: ApiDeps): void {
  app.openapi(route, async (c) => {
    requireWholeTrail(c.get("caller"));
    const { since, until } = c.req.valid("query");
    let cursor: string | undefined;
    let done = false;
    const encoder = new TextEncoder();
    // Pull-based: the next page is read only when the client has taken the previous one (backpressure).
    const body = new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          if (done) return controller.close();
          try {
            const page = await ctx.store.listAudit({ since, until }, { limit: PAGE, cursor });
            const text = page.items.map((e) => `${JSON.stringify(publicEvent(e))}\n`).join("");
            if (text.length > 0) controller.enqueue(encoder.encode(text));
            if (page.nextCursor === null) done = true;
            else cursor = page.nextCursor;
            if (done && text.length === 0) controller.close();
          } catch (e) {
            ctx.log.error({ err: e instanceof Error ? e.name : typeof e }, "audit export failed mid-stream");
            controller.error(e);
          }
        },
      },
      { highWaterMark: 0 },
    );
    return c.body(body, 200, {
      "content-type": "application/x-ndjson; charset=utf-8",
      "cache-control": "no-store",
    }) as never;
  });
}
