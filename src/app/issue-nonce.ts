import { AppError } from "../core/errors.js";
import { newId } from "../core/ids.js";
import { resolveScopes } from "../core/scopes.js";
import { generateToken, hashToken } from "../core/tokens.js";
import { resolveTtl } from "../core/ttl.js";
import type { NonceRecord } from "../core/types.js";
import { auditDraft, type Caller } from "./audit-draft.js";
import type { AppContext } from "./context.js";
import { checkIssuerPolicy, type DenyReason } from "./policy.js";
import type { ServiceCache } from "./service-cache.js";

export interface IssueInput {
  service: string;
  scope: string | string[];
  ttl?: string | number | undefined;
  agent: string;
  task?: string | undefined;
  max_uses?: number | undefined;
  constraints?: Record<string, unknown> | undefined;
  metadata?: Record<string, unknown> | undefined;
}

export interface IssuedNonce {
  record: NonceRecord;
  /** The bearer token. Returned to the caller once; only its SHA-256 is stored. */
  token: string;
}

/**
 * Issuance. Order matters: cheap input checks, then the issuer policy (a denial is audited and nothing is
 * issued), then one service lookup (cached), then one insert transaction that also writes `nonce.issued`.
 */
export async function issueNonce(
  ctx: AppContext,
  services: ServiceCache,
  caller: Caller,
  input: IssueInput,
): Promise<IssuedNonce> {
  const now = ctx.clock.now();
  const scopes = [...new Set(Array.isArray(input.scope) ? input.scope : [input.scope])];
  const task = input.task ?? null;
  const deny = async (reason: DenyReason, message: string): Promise<never> => {
    await ctx.store.appendAudit([
      auditDraft(
        ctx,
        caller,
        "nonce.issue_denied",
        { agent: input.agent, task, service: input.service, scopes, reason },
        now,
      ),
    ]);
    ctx.metrics.issueDenied.inc({ reason });
    throw new AppError("forbidden", message);
  };

  const role = caller.key.role;
  if (role !== "admin" && role !== "issuer") return deny("role_not_allowed", "this API key may not issue nonces");
  let ttlMs = resolveTtl(input.ttl, {
    defaultMs: ctx.config.ttl.default,
    minMs: ctx.config.ttl.min,
    maxMs: ctx.config.ttl.max,
  });

  let maxUses = input.max_uses ?? null;
  let allowRoutes = true;
  if (role === "issuer") {
    const d = checkIssuerPolicy(caller.key.policy, {
      service: input.service,
      scopes,
      ttlMs,
      ttlDefaulted: input.ttl === undefined,
      maxUses,
      agent: input.agent,
    });
    if (!d.ok) return deny(d.reason, d.message);
    ttlMs = d.ttlMs;
    maxUses = d.maxUses;
    allowRoutes = d.allowRoutes;
  }

  const service = await services.get(input.service);
  if (!service) throw new AppError("service_not_found", `no service named ${JSON.stringify(input.service)}`);
  const routes = resolveScopes(service.scopes, scopes, allowRoutes);
  if (!service.credential) {
    throw new AppError("credential_missing", `service ${JSON.stringify(service.name)} has no credential set`);
  }

  const token = generateToken("an");
  const record: NonceRecord = {
    id: newId("nce", now),
    tokenHash: hashToken(token),
    service: service.name,
    scopes,
    routes,
    agent: input.agent,
    task,
    maxUses,
    uses: 0,
    constraints: input.constraints ?? null,
    metadata: input.metadata ?? null,
    issuedBy: caller.key.id,
    createdAt: now,
    expiresAt: now + ttlMs,
    revokedAt: null,
  };
  await ctx.store.insertNonce(
    record,
    auditDraft(
      ctx,
      caller,
      "nonce.issued",
      {
        agent: record.agent,
        task,
        nonceId: record.id,
        service: record.service,
        scopes,
        data: { expires_at: new Date(record.expiresAt).toISOString(), max_uses: maxUses },
      },
      now,
    ),
  );
  ctx.metrics.noncesIssued.inc({ service: record.service });
  return { record, token };
}
