import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { decideApproval } from "../app/approvals.js";
import { ApprovalEnvelope, ApprovalId, approvalView } from "./approval-schemas.js";
import type { ApiDeps, ApiEnv } from "./env.js";
import { bearer, jsonResponse, pickErrors } from "./schemas.js";

/** `POST /v1/approvals/{id}/approve|deny`: one definition, two verbs (the routes differ only in the decision). */

export const DecisionRequest = z.strictObject({ comment: z.string().max(1000).optional() }).openapi("ApprovalDecision");

const VERBS = {
  approve: { decision: "approved", operationId: "approveApproval", summary: "Approve" },
  deny: { decision: "denied", operationId: "denyApproval", summary: "Deny" },
} as const;

export function decisionRoute(verb: keyof typeof VERBS) {
  const v = VERBS[verb];
  const route = createRoute({
    method: "post",
    path: `/v1/approvals/{id}/${verb}`,
    operationId: v.operationId,
    tags: ["approvals"],
    summary: `${v.summary} a pending request (admin or approver, never the requester; the first decision wins)`,
    security: bearer,
    request: {
      params: z.object({ id: ApprovalId }),
      body: { required: false, content: { "application/json": { schema: DecisionRequest } } },
    },
    responses: {
      200: jsonResponse(ApprovalEnvelope, "Decided"),
      ...pickErrors(400, 401, 403, 404, 409, 413),
    },
  });
  function register(app: OpenAPIHono<ApiEnv>, { ctx }: ApiDeps): void {
    app.openapi(route, async (c) => {
      const { comment } = (c.req.valid("json") as { comment?: string } | undefined) ?? {};
      const a = await decideApproval(ctx, c.get("caller"), c.req.valid("param").id, v.decision, comment);
      return c.json({ approval: approvalView(a) }, 200);
    });
  }
  return { route, register };
}
