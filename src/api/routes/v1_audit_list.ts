import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { queryAudit } from "../../app/audit-query.js";
import { publicEvent } from "../../core/audit-chain.js";
import { AUDIT_TYPES } from "../../core/audit-types.js";
import type { ApiDeps, ApiEnv } from "../env.js";
import { bearer, Cursor, jsonResponse, Label, Limit, NonceId, pickErrors, ServiceName } from "../schemas.js";

export { AUDIT_TYPES };

export const AuditTime = z
  .string()
  .max(40)
  .refine((s) => /^\d{4}-\d{2}-\d{2}T/.test(s) && Number.isFinite(Date.parse(s)), {
    message: "must be an ISO 8601 date-time like 2026-01-01T00:00:00Z",
  })
  .transform((s) => Date.parse(s))
  .openapi({ type: "string", format: "date-time" });

export const AuditEventSchema = z
  .object({
    id: z.string(),
    seq: z.number().int(),
    time: z.string(),
    type: z.enum(AUDIT_TYPES),
    actor: z
      .object({ type: z.enum(["api_key", "oidc", "nonce", "system"]), id: z.string(), name: z.string() })
      .nullable(),
    agent: z.string().nullable(),
    task: z.string().nullable(),
    nonce_id: z.string().nullable(),
    service: z.string().nullable(),
    scopes: z.array(z.string()).nullable(),
    reason: z.string().nullable(),
    request: z
      .object({
        method: z.string(),
        path: z.string(),
        status: z.number().int().nullable(),
        duration_ms: z.number().nullable(),
        bytes: z.number().int().nullable(),
      })
      .nullable(),
    source_ip: z.string().nullable(),
    data: z.record(z.string(), z.unknown()).nullable(),
    prev_hash: z.string(),
    hash: z.string(),
  })
  .openapi("AuditEvent");

export const route = createRoute({
  method: "get",
  path: "/v1/audit",
  operationId: "listAudit",
  tags: ["audit"],
  summary: "Query the audit trail (issuers: events of their own nonces)",
  security: bearer,
  request: {
    query: z.object({
      agent: Label("agent").optional(),
      task: Label("task").optional(),
      nonce: NonceId.optional(),
      service: ServiceName.optional(),
      type: z.enum(AUDIT_TYPES).optional(),
      since: AuditTime.optional().openapi({ description: "Inclusive lower bound" }),
      until: AuditTime.optional().openapi({ description: "Exclusive upper bound" }),
      limit: Limit,
      cursor: Cursor,
    }),
  },
  responses: {
    200: jsonResponse(
      z.object({ events: z.array(AuditEventSchema), next_cursor: z.string().nullable() }).openapi("AuditPage"),
      "A page of events",
    ),
    ...pickErrors(400, 401, 403),
  },
});

export function register(app: OpenAPIHono<ApiEnv>, { ctx }: ApiDeps): void {
  app.openapi(route, async (c) => {
    const q = c.req.valid("query");
    const page = await queryAudit(
      ctx,
      c.get("caller"),
      {
        agent: q.agent,
        task: q.task,
        nonceId: q.nonce,
        service: q.service,
        type: q.type,
        since: q.since,
        until: q.until,
      },
      { limit: q.limit, cursor: q.cursor },
    );
    return c.json(
      {
        events: page.items.map((e) => publicEvent(e)) as z.infer<typeof AuditEventSchema>[],
        next_cursor: page.nextCursor,
      },
      200,
    );
  });
}
