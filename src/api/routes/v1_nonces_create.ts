import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { ApprovalEnvelope } from "../approval-schemas.js";
import { readIncoming, readRequest } from "../body.js";
import type { ApiDeps, ApiEnv } from "../env.js";
import { IssuedNonceResponse, issuedView } from "../issued-view.js";
import { sourceIp } from "../middleware.js";
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
    202: jsonResponse(
      ApprovalEnvelope,
      "The issuer policy's rule needs a human decision: nothing is issued yet. Poll GET /v1/approvals/{id}.",
    ),
    ...pickErrors(400, 401, 403, 404, 409, 413, 422),
  },
});

/**
 * The route is in the OpenAPI document as declared above, but its handler is the one issuance handler
 * (../issue-handler.ts) that the node:http entry point (../fast-issue.ts) runs too: it authenticates, reads and
 * validates the body itself (the /v1 middleware skips this route), so this adapter only passes the request in and
 * the answer out. `c.req.valid` is not used: `IssueNonceRequest` is applied by the handler.
 */
export function register(app: OpenAPIHono<ApiEnv>, { issue }: ApiDeps): void {
  app.openAPIRegistry.registerPath(route);
  app.post(route.path, async (c) => {
    const incoming = c.env?.incoming;
    const answer = await issue({
      requestId: c.get("requestId"),
      authorization: c.req.header("authorization"),
      contentType: c.req.header("content-type"),
      contentLength: c.req.header("content-length"),
      sourceIp: sourceIp(c),
      readBody: () => (incoming ? readIncoming(incoming) : readRequest(c.req.raw)),
    });
    if (answer.close) c.header("Connection", "close");
    return c.json(answer.body as object, answer.status as 201);
  });
}

// Re-exported for older imports.
export { IssuedNonceResponse, issuedView };
