import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { createKey } from "../../app/keys.js";
import type { IssuerPolicy } from "../../core/types.js";
import type { ApiDeps, ApiEnv } from "../env.js";
import { bearer, IsoTime, jsonBody, jsonResponse, Label, PolicySchema, pickErrors } from "../schemas.js";

export const CreateKeyRequest = z
  .strictObject({
    name: Label("name").openapi({ example: "orchestrator" }),
    role: z.enum(["admin", "issuer", "auditor", "approver"]),
    policy: PolicySchema.optional(),
  })
  .openapi("CreateKeyRequest");

export const route = createRoute({
  method: "post",
  path: "/v1/keys",
  operationId: "createKey",
  tags: ["keys"],
  summary: "Create an API key (the key is shown once)",
  security: bearer,
  request: { body: jsonBody(CreateKeyRequest) },
  responses: {
    201: jsonResponse(
      z
        .object({
          id: z.string(),
          key: z.string().openapi({ description: "The API key. Shown only in this response." }),
          name: z.string(),
          role: z.enum(["admin", "issuer", "auditor", "approver"]),
          policy: PolicySchema.nullable(),
          created_at: IsoTime,
        })
        .openapi("CreatedKey"),
      "Created",
    ),
    ...pickErrors(400, 401, 403, 413),
  },
});

export function register(app: OpenAPIHono<ApiEnv>, { ctx }: ApiDeps): void {
  app.openapi(route, async (c) => {
    const body = c.req.valid("json");
    const { record, key } = await createKey(ctx, c.get("caller"), {
      name: body.name,
      role: body.role,
      policy: body.policy as IssuerPolicy | undefined,
    });
    return c.json(
      {
        id: record.id,
        key,
        name: record.name,
        role: record.role,
        policy: record.policy,
        created_at: new Date(record.createdAt).toISOString(),
      },
      201,
    );
  });
}
