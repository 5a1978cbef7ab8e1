import { z } from "@hono/zod-openapi";
import type { IssuedNonce } from "../app/issue-nonce.js";
import type { ApprovalRecord } from "../core/types.js";
import { IssuedNonceResponse, issuedView } from "./issued-view.js";
import { IsoTime } from "./schemas.js";

export const ApprovalId = z
  .string()
  .regex(/^apr_[0-9A-HJKMNP-TV-Z]{26}$/, { message: "must be an approval id (apr_…)" })
  .openapi({ example: "apr_01JH0000000000000000000000" });

export const ApprovalStatusSchema = z.enum(["pending", "approved", "denied", "expired"]);

export const ApprovalView = z
  .object({
    id: z.string(),
    status: ApprovalStatusSchema,
    service: z.string(),
    agent: z.string(),
    task: z.string().nullable(),
    scopes: z.array(z.string()),
    ttl_s: z.number().int().openapi({ description: "The nonce's TTL, counted from the approval." }),
    requested_by: z.string(),
    created_at: IsoTime,
    expires_at: IsoTime.openapi({ description: "When an unanswered request expires (as denied)." }),
    decided_at: IsoTime.nullable(),
    decided_by: z.string().nullable(),
    comment: z.string().nullable(),
    nonce_id: z.string().nullable(),
    nonce: IssuedNonceResponse.optional().openapi({
      description:
        "The issued nonce: only in the requester's first read after approval, never again and never to anyone else.",
    }),
  })
  .openapi("Approval");

export const ApprovalEnvelope = z.object({ approval: ApprovalView }).openapi("ApprovalResponse");

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function approvalView(a: ApprovalRecord, issued?: IssuedNonce, gateway?: string) {
  const ttlMs = Number((a.request as { ttlMs?: unknown }).ttlMs ?? 0);
  return {
    id: a.id,
    status: a.status,
    service: a.service,
    agent: a.agent,
    task: a.task,
    scopes: a.scopes,
    ttl_s: Math.round(ttlMs / 1000),
    requested_by: a.requestedBy,
    created_at: new Date(a.createdAt).toISOString(),
    expires_at: new Date(a.expiresAt).toISOString(),
    decided_at: iso(a.decidedAt),
    decided_by: a.decidedBy,
    comment: a.comment,
    nonce_id: a.nonceId,
    ...(issued && gateway !== undefined ? { nonce: issuedView(issued.record, issued.token, gateway, issued.aws) } : {}),
  };
}
