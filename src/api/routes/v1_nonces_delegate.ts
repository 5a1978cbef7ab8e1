import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { delegateNonce } from "../../app/delegate-nonce.js";
import { gatewayUrl } from "../../config.js";
import type { ApiDeps, ApiEnv } from "../env.js";
import { sourceIp } from "../middleware.js";
import { bearer, ConstraintsSchema, jsonBody, jsonResponse, Label, pickErrors, RateSchema } from "../schemas.js";
import { IssuedNonceResponse, issuedView } from "./v1_nonces_create.js";

const Scope = z.string().min(1).max(300);

export const DelegateNonceRequest = z
  .strictObject({
    scope: z.union([Scope, z.array(Scope).min(1).max(100)]).openapi({ example: "read:customers" }),
    ttl: z
      .union([z.string().min(1).max(32), z.number().int().positive()])
      .optional()
      .openapi({
        description: "Seconds or a duration; at most the parent's remaining lifetime (its expiry by default).",
      }),
    max_uses: z
      .number()
      .int()
      .min(1)
      .max(1_000_000_000)
      .optional()
      .openapi({ description: "At most the parent's remaining uses (the default)." }),
    agent: Label("agent").optional().openapi({ description: "Default: the parent's agent." }),
    task: Label("task").optional().openapi({ description: "Default: the parent's task." }),
    rate: RateSchema.optional().openapi({ description: "Within the parent's rate (the default)." }),
    constraints: ConstraintsSchema.optional().openapi({
      description: "AND-merged with the parent's constraints: a child is never wider.",
    }),
  })
  .openapi("DelegateNonceRequest");

export const route = createRoute({
  method: "post",
  path: "/v1/nonces/delegate",
  operationId: "delegateNonce",
  tags: ["nonces"],
  summary: "Delegate a narrower child nonce, authenticated by the parent nonce",
  description:
    "Authorization: Bearer <the parent nonce (an_…)>, not an API key. The child's routes are within the parent's, " +
    "its expiry no later, its uses no more than the parent's remaining, its rate within, its constraints the " +
    "parent's AND its own; at most 4 levels below a root nonce. Revoking, exhausting or the expiry of any " +
    "ancestor ends the child at once. A widening request is 403 delegation_denied (details.reason: scope, ttl, " +
    "uses, rate); a fifth level is 403 delegation_too_deep; a dead parent gets its own 401.",
  security: bearer,
  request: { body: jsonBody(DelegateNonceRequest) },
  responses: {
    201: jsonResponse(IssuedNonceResponse, "Delegated. The child's token appears only here."),
    ...pickErrors(400, 401, 403, 404, 413, 422),
  },
});

export function register(app: OpenAPIHono<ApiEnv>, { ctx, services }: ApiDeps): void {
  const gateway = gatewayUrl(ctx.config);
  app.openapi(route, async (c) => {
    const { record, token } = await delegateNonce(
      ctx,
      services,
      c.req.header("authorization"),
      c.req.valid("json"),
      sourceIp(c),
    );
    return c.json(issuedView(record, token, gateway), 201);
  });
}
