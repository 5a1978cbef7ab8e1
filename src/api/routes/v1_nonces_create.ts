import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { type IssuedNonce, issueNonce } from "../../app/issue-nonce.js";
import { gatewayUrl } from "../../config.js";
import type { NonceRecord } from "../../core/types.js";
import type { ApiDeps, ApiEnv } from "../env.js";
import {
  bearer,
  ConstraintsSchema,
  jsonBody,
  jsonResponse,
  Label,
  pickErrors,
  RateSchema,
  ServiceName,
  SmallObject,
} from "../schemas.js";

const Scope = z.string().min(1).max(300);

export const IssueNonceRequest = z
  .strictObject({
    service: ServiceName,
    scope: z.union([Scope, z.array(Scope).min(1).max(100)]).openapi({ example: "read:customers" }),
    ttl: z
      .union([z.string().min(1).max(32), z.number().int().positive()])
      .optional()
      .openapi({ description: 'Seconds, or a duration like "30s", "5m", "1h". Default 5m.', example: "5m" }),
    agent: Label("agent").openapi({ example: "billing-bot" }),
    task: Label("task").optional().openapi({ example: "sync-42" }),
    max_uses: z.number().int().min(1).max(1_000_000_000).optional(),
    rate: RateSchema.optional(),
    constraints: ConstraintsSchema.optional(),
    metadata: SmallObject("metadata", 4096).optional(),
    canary: z
      .boolean()
      .optional()
      .openapi({
        description:
          "A tripwire: a nonce never meant to be used. Any presentation at the gateway is refused (401 nonce_invalid) " +
          "and written as nonce.canary_tripped (source address, path), which every audit sink receives.",
      }),
    github: z
      .strictObject({ repositories: z.array(z.string().min(3).max(140)).min(1).max(100) })
      .optional()
      .openapi({
        description:
          "github_app services (required there): the repositories (owner/repo, one owner) the nonce's installation " +
          "token is narrowed to; the gateway refuses requests for any other repository (403 scope_denied).",
        example: { repositories: ["octo-org/api"] },
      }),
    aws: z
      .strictObject({ resources: z.array(z.string().min(1).max(1100)).min(1).max(20) })
      .optional()
      .openapi({
        description:
          "aws services only: resource ARNs (IAM wildcards allowed) every action of the nonce is narrowed to.",
        example: { resources: ["arn:aws:s3:::reports/*"] },
      }),
  })
  .openapi("IssueNonceRequest");

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

export const route = createRoute({
  method: "post",
  path: "/v1/nonces",
  operationId: "createNonce",
  tags: ["nonces"],
  summary: "Issue a nonce for one task",
  security: bearer,
  request: { body: jsonBody(IssueNonceRequest) },
  responses: {
    201: jsonResponse(IssuedNonceResponse, "Issued. The token appears only here."),
    ...pickErrors(400, 401, 403, 404, 409, 413, 422),
  },
});

export function register(app: OpenAPIHono<ApiEnv>, { ctx, services }: ApiDeps): void {
  const gateway = gatewayUrl(ctx.config);
  app.openapi(route, async (c) => {
    const { record, token, aws } = await issueNonce(ctx, services, c.get("caller"), c.req.valid("json"));
    return c.json(issuedView(record, token, gateway, aws), 201);
  });
}

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
