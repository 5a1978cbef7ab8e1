import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { openAuditStream } from "../../app/audit-stream.js";
import { AppError } from "../../core/errors.js";
import type { ApiDeps, ApiEnv } from "../env.js";
import { bearer, Label, NonceId, pickErrors, ServiceName } from "../schemas.js";
import { AUDIT_TYPES, AuditTime } from "./v1_audit_list.js";

const Seq = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const route = createRoute({
  method: "get",
  path: "/v1/audit/stream",
  operationId: "streamAudit",
  tags: ["audit"],
  summary: "Live audit events as server-sent events (same filters and access as /v1/audit)",
  description:
    "Each event: `id: <seq>`, `event: audit`, `data: <AuditEvent JSON>`. Resume with `Last-Event-ID` or " +
    "`since_seq`; otherwise `tail` events back (before filtering), or from now. Idle streams get a `: heartbeat` " +
    "comment. `follow=false` ends the stream after the backlog.",
  security: bearer,
  request: {
    query: z.object({
      agent: Label("agent").optional(),
      task: Label("task").optional(),
      nonce: NonceId.optional(),
      service: ServiceName.optional(),
      type: z.enum(AUDIT_TYPES).optional(),
      since: AuditTime.optional(),
      until: AuditTime.optional(),
      since_seq: Seq.optional().openapi({ type: "integer", description: "Start after this seq" }),
      tail: z.coerce.number().int().min(0).max(10_000).optional().openapi({ type: "integer" }),
      follow: z.enum(["true", "false"]).default("true"),
    }),
    headers: z.object({ "last-event-id": z.string().max(20).optional() }),
  },
  responses: {
    200: {
      content: { "text/event-stream": { schema: z.string() } },
      description: "An event stream",
    },
    ...pickErrors(400, 401, 403),
  },
});

export function register(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  app.openapi(route, async (c) => {
    const q = c.req.valid("query");
    const lastEventId = c.req.valid("header")["last-event-id"];
    let afterSeq = q.since_seq;
    if (lastEventId !== undefined) {
      if (!/^\d{1,16}$/.test(lastEventId)) throw new AppError("invalid_request", "Last-Event-ID must be a seq");
      afterSeq = Number(lastEventId);
    }
    const body = await openAuditStream(deps.ctx, await deps.audit(), c.get("caller"), {
      filter: {
        agent: q.agent,
        task: q.task,
        nonceId: q.nonce,
        service: q.service,
        type: q.type,
        since: q.since,
        until: q.until,
      },
      afterSeq,
      tail: q.tail,
      follow: q.follow === "true",
    });
    return c.body(body, 200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
    }) as never;
  });
}
