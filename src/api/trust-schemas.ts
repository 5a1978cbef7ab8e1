import { z } from "@hono/zod-openapi";
import type { TrustRecord } from "../core/types.js";
import { IsoTime, PolicySchema, ServiceName } from "./schemas.js";

/** Shapes of the trust-relationship endpoints (DESIGN.md "Orchestrator identity"; docs/identity.md). */
const Glob = (what: string) =>
  z
    .string()
    .min(1)
    .max(512)
    .openapi({ description: `${what}: \`*\` matches any run of characters; everything else matches itself` });

export const TrustName = ServiceName.openapi({ example: "github-deploy" });

export const PutTrustRequest = z
  .strictObject({
    issuer: z.string().max(2048).openapi({ example: "https://token.actions.githubusercontent.com" }),
    audience: z.string().min(1).max(512).openapi({ example: "agent-nonce" }),
    subject: Glob("glob on the token's sub").optional().openapi({ example: "repo:acme/app:environment:prod" }),
    claims: z
      .record(z.string().max(64), Glob("glob on a string claim"))
      .optional()
      .openapi({ example: { repository: "acme/app", ref: "refs/heads/main" } }),
    role: z.enum(["issuer", "auditor"]),
    policy: PolicySchema.optional(),
    jwks_uri: z
      .string()
      .max(2048)
      .optional()
      .openapi({ description: "Skips discovery: the issuer's JWKS is fetched from here" }),
    insecure_issuer: z
      .boolean()
      .optional()
      .openapi({ description: "Allows an http:// or loopback/private issuer (development only)" }),
  })
  .openapi("PutTrustRequest");

export const TrustView = z
  .object({
    name: z.string(),
    issuer: z.string(),
    audience: z.string(),
    subject: z.string().nullable(),
    claims: z.record(z.string(), z.string()).nullable(),
    role: z.enum(["issuer", "auditor"]),
    policy: PolicySchema.nullable(),
    jwks_uri: z.string().nullable(),
    insecure_issuer: z.boolean(),
    actor_prefix: z.string().openapi({ description: "Audit actor ids of its callers: oidc:<name>:<sub>" }),
    created_at: IsoTime,
    updated_at: IsoTime,
  })
  .openapi("TrustRelationship");

export function trustView(t: TrustRecord): z.infer<typeof TrustView> {
  return {
    name: t.name,
    issuer: t.issuer,
    audience: t.audience,
    subject: t.subject,
    claims: t.claims,
    role: t.role,
    policy: t.policy,
    jwks_uri: t.jwksUri,
    insecure_issuer: t.insecureIssuer,
    actor_prefix: `oidc:${t.name}:`,
    created_at: new Date(t.createdAt).toISOString(),
    updated_at: new Date(t.updatedAt).toISOString(),
  };
}
