import { z } from "@hono/zod-openapi";
import { SERVICE_NAME } from "../app/services.js";
import { parseConstraints } from "../core/constraints.js";
import { AppError, ERROR_CODES } from "../core/errors.js";
import { RATE_PATTERN } from "../core/rate.js";

/** Schemas shared by several routes. Each validates requests and generates /openapi.json from one definition. */

// Printable: no control, format or line/paragraph separator characters (they corrupt logs and audit exports).
const PRINTABLE = /^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]*$/u;

export const Label = (what: string) =>
  z
    .string()
    .min(1)
    .max(200)
    // A refinement rather than .regex(): the generator renders unicode-flag patterns incorrectly.
    .refine((s) => PRINTABLE.test(s), { message: `${what} must be printable text without control characters` })
    .openapi({ description: `${what}: 1-200 printable characters` });

export const ServiceName = z
  .string()
  .regex(SERVICE_NAME, { message: "service name must match ^[a-z][a-z0-9_-]{0,62}$" })
  .openapi({ example: "stripe" });

export const NonceId = z
  .string()
  .regex(/^nce_[0-9A-HJKMNP-TV-Z]{26}$/, { message: "must be a nonce id (nce_…)" })
  .openapi({ example: "nce_01JH0000000000000000000000" });

export const KeyId = z.string().regex(/^key_[0-9A-HJKMNP-TV-Z]{26}$/, { message: "must be an API key id (key_…)" });

export const IsoTime = z.string().openapi({ format: "date-time", example: "2026-01-01T00:00:00.000Z" });

/** A small JSON object with a size cap measured on its serialised form. */
export const SmallObject = (what: string, maxBytes: number) =>
  z
    .record(z.string().max(64), z.unknown())
    .refine((o) => Object.keys(o).length <= 32, { message: `${what} may have at most 32 keys` })
    .refine((o) => Buffer.byteLength(JSON.stringify(o), "utf8") <= maxBytes, {
      message: `${what} must be at most ${maxBytes} bytes as JSON`,
    });

export const ConstraintsSchema = z
  .record(z.string().max(300), z.unknown())
  .refine((o) => Buffer.byteLength(JSON.stringify(o), "utf8") <= 8192, {
    message: "constraints must be at most 8192 bytes as JSON",
  })
  .superRefine((o, ctx) => {
    try {
      parseConstraints(o);
    } catch (e) {
      ctx.addIssue({
        code: "custom",
        message: e instanceof Error ? e.message.replace(/^constraints: /, "") : "invalid",
        params: e instanceof AppError ? { code: e.code } : undefined,
      });
    }
  })
  .openapi("Constraints", {
    description:
      "Narrows the query and body fields of the requests a nonce may make (at most 8 KiB as JSON). A key is a " +
      'field path — "body.amount", "body.metadata.order_id", "query.limit" — mapping to operators ' +
      '{eq?, in?, min?, max?, pattern?}, or a route pattern ("POST /v1/refunds") mapping to such a field map that ' +
      "applies only to requests on that route. A field may also map to a list of operator objects, all of which " +
      "must hold. eq/in take JSON scalars, min/max numbers, pattern a regular expression (≤ 200 chars, " +
      "JavaScript syntax, run on RE2 in linear time; backreferences and lookaround are refused with 422 " +
      "pattern_unsupported) matched against the whole value. Every value of a repeated " +
      "field must satisfy it; a missing field, a wrong type or a body that cannot be parsed (JSON or form only) " +
      "fails it. The gateway answers 403 constraint_failed and counts no use. See docs/api.md#constraints.",
    example: { "POST /v1/refunds": { "body.amount": { max: 5000 } } },
  });

export const RateSchema = z
  .string()
  .regex(RATE_PATTERN, { message: 'rate must look like "60/m": a count of 1 or more per s, m or h' })
  .openapi({
    description:
      'Per-nonce rate limit, "<count>/<s|m|h>": up to count requests at once, then count per period. Enforced ' +
      "by each gateway process on its own (replicas each allow the full rate); over it the gateway answers 429 " +
      "rate_limited with Retry-After and counts no use.",
    example: "60/m",
  });

export const Limit = z.coerce
  .number()
  .int()
  .min(1)
  .max(1000)
  .default(100)
  .openapi({ type: "integer", minimum: 1, maximum: 1000, default: 100 });
export const Cursor = z.string().max(512).optional();

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODES),
      message: z.string(),
      request_id: z.string(),
      details: z.record(z.string(), z.unknown()).optional(),
    }),
  })
  .openapi("Error");

const errorContent = (description: string) => ({
  content: { "application/json": { schema: ErrorSchema } },
  description,
});

/** The error responses a route can produce, for the document. */
export const errors = {
  400: errorContent("invalid_request"),
  401: errorContent("unauthenticated"),
  403: errorContent("forbidden"),
  404: errorContent("not found"),
  409: errorContent("conflict"),
  413: errorContent("payload_too_large"),
  422: errorContent("scope_unknown | pattern_unsupported"),
  503: errorContent("unavailable"),
} as const;

export function pickErrors<K extends keyof typeof errors>(...codes: K[]): Pick<typeof errors, K> {
  return Object.fromEntries(codes.map((k) => [k, errors[k]])) as Pick<typeof errors, K>;
}

export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  required: true,
  content: { "application/json": { schema } },
});

export const jsonResponse = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});

export const bearer = [{ bearerAuth: [] }];

export const NonceStatusSchema = z.enum(["active", "expired", "revoked", "exhausted"]);

export const NonceView = z
  .object({
    id: z.string(),
    service: z.string(),
    scopes: z.array(z.string()),
    agent: z.string(),
    task: z.string().nullable(),
    status: NonceStatusSchema,
    uses: z.number().int(),
    max_uses: z.number().int().nullable(),
    rate: z.string().nullable(),
    parent_id: z
      .string()
      .nullable()
      .openapi({ description: "The nonce this one was delegated from; null for a root." }),
    depth: z.number().int().openapi({ description: "0 for a root nonce, levels below it for a delegated one." }),
    canary: z.boolean(),
    created_at: IsoTime,
    expires_at: IsoTime,
    revoked_at: IsoTime.nullable(),
  })
  .openapi("Nonce");

export const AuthSchema = z
  .strictObject({
    type: z.enum(["bearer", "basic", "header", "query", "github_app", "oauth2", "aws_sigv4"]).openapi({
      description:
        "bearer|basic|header|query inject the sealed secret itself; github_app and oauth2 (and aws_sigv4) mint " +
        "a short-lived credential from it (per nonce for github_app, shared per service for oauth2).",
    }),
    name: z.string().max(64).optional(),
    prefix: z.string().max(32).optional(),
    app_id: z.string().max(32).optional().openapi({ description: "github_app: the App's id", example: "123456" }),
    installation_id: z
      .string()
      .max(32)
      .optional()
      .openapi({ description: "github_app: the installation tokens are minted for", example: "7654321" }),
    grant: z.enum(["client_credentials", "refresh_token"]).optional().openapi({ description: "oauth2 grant" }),
    token_url: z.string().max(2048).optional().openapi({ description: "oauth2: the token endpoint (https)" }),
    client_id: z.string().max(256).optional(),
    scope: z.string().max(1024).optional().openapi({ description: "oauth2: scope requested with each token" }),
    audience: z.string().max(1024).optional(),
    resource: z.string().max(2048).optional().openapi({ description: "oauth2: RFC 8707 resource indicator" }),
  })
  .openapi("ServiceAuth");

export const AwsServiceSchema = z
  .strictObject({
    role_arn: z
      .string()
      .max(2048)
      .regex(/^arn:(aws|aws-cn|aws-us-gov):iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/, {
        message: "must be an IAM role ARN",
      }),
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, { message: "must be an AWS region like eu-west-1" }),
    external_id: z
      .string()
      .regex(/^[\w+=,.@:/-]{2,1224}$/, { message: "external_id: 2-1224 characters of [\\w+=,.@:/-]" })
      .optional(),
  })
  .openapi("AwsService", { description: "aws_sigv4 services: the role each nonce's STS session assumes." });

export const AwsEndpointsSchema = z
  .partialRecord(z.enum(["sts", "s3", "dynamodb", "sqs", "bedrock"]), z.string().max(2048))
  .openapi("AwsEndpoints", {
    description: "Origins overriding AWS's regional endpoints, per signing name (sts, s3, dynamodb, sqs, bedrock).",
  });

export const ServiceView = z
  .object({
    name: z.string(),
    template: z.string().nullable(),
    upstream: z.string(),
    auth: AuthSchema,
    scopes: z.record(z.string(), z.array(z.string())),
    insecure_upstream: z.boolean(),
    aws: AwsServiceSchema.optional(),
    endpoints: z.record(z.string(), z.string()).optional(),
    credential: z.object({
      set: z.boolean(),
      fingerprint: z.string().nullable(),
      updated_at: IsoTime.nullable(),
    }),
    created_at: IsoTime,
    updated_at: IsoTime,
  })
  .openapi("Service");

export const PolicyRuleSchema = z
  .strictObject({
    service: ServiceName,
    scopes: z.array(z.string().min(1).max(300)).min(1).max(200),
    max_ttl: z.union([z.string().max(32), z.number().int().positive()]).optional(),
    max_uses: z.number().int().min(1).max(1_000_000_000).optional(),
    allow_routes: z.boolean().optional(),
    constraints: ConstraintsSchema.optional().openapi({
      description: "Constraints every nonce issued under this rule carries, AND-merged into the nonce's own.",
    }),
    max_rate: RateSchema.optional().openapi({
      description:
        "Loosest rate a nonce issued under this rule may carry (count no higher, count per period no higher); " +
        "the nonce's rate when the issuer gives none.",
    }),
    approval: z
      .strictObject({
        required: z.boolean(),
        timeout: z.union([z.string().min(1).max(32), z.number().int().positive()]).optional(),
      })
      .optional()
      .openapi({
        description:
          "With required: true, a nonce under this rule waits for a human: POST /v1/nonces answers 202 with a " +
          'pending approval. timeout (default "15m", at most 24h) after which the request expires as denied.',
      }),
  })
  .openapi("PolicyRule");

export const PolicySchema = z
  .strictObject({
    allow: z.array(PolicyRuleSchema).min(1).max(100),
    agents: z.array(z.string().min(1).max(200)).min(1).max(100).optional(),
  })
  .openapi("IssuerPolicy");

export const KeyView = z
  .object({
    id: z.string(),
    name: z.string(),
    role: z.enum(["admin", "issuer", "auditor", "approver"]),
    policy: PolicySchema.nullable(),
    created_by: z.string().nullable(),
    created_at: IsoTime,
    revoked_at: IsoTime.nullable(),
  })
  .openapi("ApiKey");
