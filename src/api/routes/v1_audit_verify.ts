import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { requireWholeTrail } from "../../app/audit-query.js";
import type { ApiDeps, ApiEnv } from "../env.js";
import { bearer, jsonResponse, pickErrors } from "../schemas.js";

export const VerifyResultSchema = z
  .object({
    ok: z.boolean(),
    events: z.number().int().openapi({ description: "Events verified (up to the first bad one)" }),
    first_bad_seq: z.number().int().optional().openapi({ description: "First seq that does not verify" }),
    reason: z
      .enum(["chain_broken", "anchor_missing", "checkpoint_invalid", "checkpoint_mismatch", "chain_truncated"])
      .optional(),
    checkpoints: z.number().int(),
    untrusted_checkpoints: z.number().int(),
    from_seq: z.number().int().openapi({ description: "0, or the retention checkpoint the chain starts after" }),
  })
  .openapi("AuditVerifyResult");

export const route = createRoute({
  method: "get",
  path: "/v1/audit/verify",
  operationId: "verifyAudit",
  tags: ["audit"],
  summary: "Verify the whole hash chain and every signed checkpoint (admin, auditor)",
  description:
    "Streams the chain in pages. Detects edited, deleted and reordered events, a tail cut below a checkpoint, " +
    "and a database restored from an older copy (against the latest checkpoint kept in the data dir). " +
    "A failed verification is still a 200 with `ok: false`.",
  security: bearer,
  responses: {
    200: jsonResponse(VerifyResultSchema, "The verification result"),
    ...pickErrors(401, 403),
  },
});

export function register(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  app.openapi(route, async (c) => {
    requireWholeTrail(c.get("caller"));
    const result = await (await deps.audit()).verify();
    return c.json(result, 200);
  });
}
