import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { requireWholeTrail } from "../../app/audit-query.js";
import { auditCursor } from "../../store/rows.js";
import type { ApiDeps, ApiEnv } from "../env.js";
import { bearer, Cursor, IsoTime, jsonResponse, Limit, pickErrors } from "../schemas.js";

const Jwk = z.record(z.string(), z.unknown()).openapi("Jwk", { description: "Ed25519 public key (RFC 8037)" });

const CheckpointView = z
  .object({
    seq: z.number().int(),
    hash: z.string(),
    time: IsoTime,
    events: z.number().int(),
    kid: z.string().openapi({ description: "RFC 7638 thumbprint of the signing key" }),
    public_key: Jwk,
    jws: z.string().openapi({ description: "Compact JWS (EdDSA) of {seq, hash, time (ms), events}" }),
    trusted: z.boolean().openapi({ description: "Signed by this replica's key or one in audit.trustedKeys" }),
  })
  .openapi("AuditCheckpoint");

export const route = createRoute({
  method: "get",
  path: "/v1/audit/checkpoints",
  operationId: "listAuditCheckpoints",
  tags: ["audit"],
  summary: "Signed checkpoints of the audit chain, oldest first (admin, auditor)",
  security: bearer,
  request: { query: z.object({ limit: Limit, cursor: Cursor }) },
  responses: {
    200: jsonResponse(
      z
        .object({
          checkpoints: z.array(CheckpointView),
          next_cursor: z.string().nullable(),
          signing_key: z.object({ kid: z.string(), public_key: Jwk }),
        })
        .openapi("AuditCheckpointList"),
      "A page of checkpoints and this replica's signing key",
    ),
    ...pickErrors(400, 401, 403),
  },
});

export function register(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  app.openapi(route, async (c) => {
    requireWholeTrail(c.get("caller"));
    const { limit, cursor } = c.req.valid("query");
    const audit = await deps.audit();
    const after = cursor === undefined ? 0 : auditCursor.decode(cursor);
    let rows = await deps.ctx.store.listCheckpoints(after, limit + 1);
    let next: string | null = null;
    if (rows.length > limit) {
      // Pages end on a whole seq (several replicas may checkpoint the same one).
      const lastSeq = (rows[limit - 1] as { seq: number }).seq;
      const whole = rows.filter((r) => r.seq <= lastSeq);
      rows = whole.length < rows.length ? whole : rows;
      next = auditCursor.encode(lastSeq);
    }
    return c.json(
      {
        checkpoints: rows.map((r) => ({
          seq: r.seq,
          hash: r.hash,
          time: new Date(r.time).toISOString(),
          events: r.events,
          kid: r.kid,
          public_key: JSON.parse(r.publicKey) as Record<string, unknown>,
          jws: r.jws,
          trusted: audit.trustedKids.has(r.kid),
        })),
        next_cursor: next,
        signing_key: { kid: audit.signer.kid, public_key: audit.signer.publicJwk as Record<string, unknown> },
      },
      200,
    );
  });
}
