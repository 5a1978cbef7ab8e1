import { z } from "@hono/zod-openapi";
import type { IssuedNonce } from "../app/issue-nonce.js";
import type { NonceRecord } from "../core/types.js";

export const IssuedNonceResponse = z
  .object({
    id: z.string(),
    nonce: z.string().openapi({ description: "The bearer token. Shown only in this response." }),
    service: z.string(),
    scopes: z.array(z.string()),
    agent: z.string(),
    task: z.string().nullable(),
    expires_at: z.string().openapi({ format: "date-time" }),
    max_uses: z.number().int().nullable(),
    rate: z.string().nullable(),
    parent_id: z.string().optional().openapi({ description: "Delegated nonces: the parent's id." }),
    depth: z.number().int().optional().openapi({ description: "Delegated nonces: levels below the root (1–4)." }),
    canary: z.boolean().optional(),
    github: z.object({ repositories: z.array(z.string()) }).optional(),
    gateway_url: z.string(),
    aws: z
      .object({
        access_key_id: z.string(),
        secret_access_key: z.string().openapi({ description: "Shown only in this response." }),
        region: z.string(),
        endpoint: z.string(),
      })
      .optional()
      .openapi({
        description:
          "aws services only: configure an AWS SDK v3 client with exactly these (credentials, region, endpoint; " +
          "S3 with forcePathStyle). The agent signs with SigV4; the secret never crosses the wire.",
      }),
  })
  .openapi("IssuedNonce");

/** The 201 body; shared with the node:http fast path (src/api/fast-issue.ts) so both answer alike. */
export function issuedView(record: NonceRecord, token: string, gateway: string, aws?: IssuedNonce["aws"]) {
  return {
    id: record.id,
    nonce: token,
    service: record.service,
    scopes: record.scopes,
    agent: record.agent,
    task: record.task,
    expires_at: new Date(record.expiresAt).toISOString(),
    max_uses: record.maxUses,
    rate: record.rate ?? null,
    ...(record.parentId ? { parent_id: record.parentId, depth: record.depth ?? 1 } : {}),
    ...(record.canary ? { canary: true } : {}),
    ...(record.credentialParams?.github
      ? { github: record.credentialParams.github as { repositories: string[] } }
      : {}),
    gateway_url: gateway,
    ...(aws ? { aws: { ...aws, endpoint: gateway } } : {}),
  };
}
