import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { setCredential } from "../../app/credentials.js";
import type { ApiDeps, ApiEnv } from "../env.js";
import { bearer, IsoTime, jsonBody, jsonResponse, pickErrors, ServiceName } from "../schemas.js";

export const CredentialRequest = z
  .union(
    [
      z.strictObject({ secret: z.string().min(1).max(8192) }),
      z.strictObject({ username: z.string().min(1).max(256), password: z.string().min(1).max(8192) }),
      z.strictObject({ private_key: z.string().min(1).max(16384) }),
      z.strictObject({
        client_secret: z.string().min(1).max(4096),
        refresh_token: z.string().min(1).max(8192).optional(),
      }),
      z.strictObject({
        access_key_id: z.string().regex(/^[A-Z0-9]{16,128}$/),
        secret_access_key: z.string().min(16).max(256),
      }),
    ],
    {
      error:
        "send {secret} (1-8192 chars), {username, password} for basic-auth services, {private_key} for github_app " +
        "services, {client_secret, refresh_token?} for oauth2 services, or {access_key_id, secret_access_key} for " +
        "aws services",
    },
  )
  .openapi("CredentialRequest", {
    description:
      "`{secret}`; `{username, password}` for basic-auth services; `{private_key}` (the App's PEM key) for " +
      "github_app services; `{client_secret, refresh_token?}` for oauth2 services (refresh_token for that grant); " +
      "`{access_key_id, secret_access_key}` of the identity allowed to assume the role, for aws services.",
  });

export const route = createRoute({
  method: "put",
  path: "/v1/services/{name}/credential",
  operationId: "setCredential",
  tags: ["services"],
  summary: "Set the service's credential (write-only: never returned by any endpoint)",
  security: bearer,
  request: { params: z.object({ name: ServiceName }), body: jsonBody(CredentialRequest) },
  responses: {
    200: jsonResponse(
      z.object({ fingerprint: z.string(), updated_at: IsoTime }).openapi("CredentialSet"),
      "Stored; only a fingerprint comes back",
    ),
    ...pickErrors(400, 401, 403, 404, 413),
  },
});

export function register(app: OpenAPIHono<ApiEnv>, { ctx }: ApiDeps): void {
  app.openapi(route, async (c) => {
    const r = await setCredential(ctx, c.get("caller"), c.req.valid("param").name, c.req.valid("json"));
    return c.json({ fingerprint: r.fingerprint, updated_at: new Date(r.updatedAt).toISOString() }, 200);
  });
}
