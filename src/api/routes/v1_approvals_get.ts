import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { readApproval } from "../../app/approvals.js";
import { gatewayUrl } from "../../config.js";
import { ApprovalEnvelope, ApprovalId, approvalView } from "../approval-schemas.js";
import type { ApiDeps, ApiEnv } from "../env.js";
import { bearer, jsonResponse, pickErrors } from "../schemas.js";

export const route = createRoute({
  method: "get",
  path: "/v1/approvals/{id}",
  operationId: "getApproval",
  tags: ["approvals"],
  summary: "An approval request; the requester's first read after approval carries the nonce",
  security: bearer,
  request: { params: z.object({ id: ApprovalId }) },
  responses: { 200: jsonResponse(ApprovalEnvelope, "The approval request"), ...pickErrors(400, 401, 403, 404) },
});

export function register(app: OpenAPIHono<ApiEnv>, { ctx, services }: ApiDeps): void {
  const gateway = gatewayUrl(ctx.config);
  app.openapi(route, async (c) => {
    const r = await readApproval(ctx, services, c.get("caller"), c.req.valid("param").id);
    // The answer may carry a token: nobody may cache it.
    c.header("cache-control", "no-store");
    return c.json({ approval: approvalView(r.approval, r.issued, gateway) }, 200);
  });
}
