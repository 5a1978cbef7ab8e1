import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { listApprovalsFor } from "../../app/approvals.js";
import { ApprovalStatusSchema, ApprovalView, approvalView } from "../approval-schemas.js";
import type { ApiDeps, ApiEnv } from "../env.js";
import { bearer, Cursor, jsonResponse, Limit, pickErrors } from "../schemas.js";

export const route = createRoute({
  method: "get",
  path: "/v1/approvals",
  operationId: "listApprovals",
  tags: ["approvals"],
  summary: "List approval requests, newest first (an issuer sees only its own)",
  security: bearer,
  request: { query: z.object({ status: ApprovalStatusSchema.optional(), limit: Limit, cursor: Cursor }) },
  responses: {
    200: jsonResponse(
      z.object({ approvals: z.array(ApprovalView), next_cursor: z.string().nullable() }).openapi("ApprovalList"),
      "A page of approval requests",
    ),
    ...pickErrors(400, 401, 403),
  },
});

export function register(app: OpenAPIHono<ApiEnv>, { ctx }: ApiDeps): void {
  app.openapi(route, async (c) => {
    const { status, limit, cursor } = c.req.valid("query");
    const page = await listApprovalsFor(ctx, c.get("caller"), status, { limit, cursor });
    return c.json({ approvals: page.items.map((a) => approvalView(a)), next_cursor: page.nextCursor }, 200);
  });
}
