import { resolveAwsScopes } from "../core/aws/grants.js";
import { awsNonceSecret } from "../core/aws/nonce-credentials.js";
import { mergeConstraints, parseConstraints } from "../core/constraints.js";
import { AppError } from "../core/errors.js";
import { newId } from "../core/ids.js";
import { parseRate } from "../core/rate.js";
import { resolveScopes } from "../core/scopes.js";
import { generateToken, tokenKey } from "../core/tokens.js";
import { resolveTtl } from "../core/ttl.js";
import type { NonceRecord } from "../core/types.js";
import { auditDraft, type Caller } from "./audit-draft.js";
import type { AppContext } from "./context.js";
import { resolveCredentialParams } from "./credential-params.js";
import { checkIssuerPolicy, type DenyReason } from "./policy.js";
import type { ServiceCache } from "./service-cache.js";

export interface IssueInput {
  service: string;
  scope: string | string[];
  ttl?: string | number | undefined;
  agent: string;
  task?: string | undefined;
  max_uses?: number | undefined;
  /** `"60/m"`: per-nonce rate limit enforced by each gateway process. */
  rate?: string | undefined;
  constraints?: Record<string, unknown> | undefined;
  metadata?: Record<string, unknown> | undefined;
  /** github_app services: the repositories the nonce's installation token is narrowed to (required there). */
  github?: { repositories: string[] } | undefined;
  /** aws_sigv4 services: resource ARNs every action is narrowed to. */
  aws?: { resources: string[] } | undefined;
  /** A tripwire (DESIGN.md "Tripwires"): never meant to be used; any presentation is an alert. */
  canary?: boolean | undefined;
}

export interface IssuedNonce {
  record: NonceRecord;
  /** The bearer token. Returned to the caller once; only its SHA-256 is stored. */
  token: string;
  /** aws_sigv4 services: the agent's SigV4 key pair (see core/aws/nonce-credentials.ts), shown once. */
  aws?: { access_key_id: string; secret_access_key: string; region: string };
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

  let rate = input.rate ?? null;
  if (rate !== null) parseRate(rate);
  // Validated before the policy so a malformed request is a 400, never an audited denial.
  if (input.constraints) parseConstraints(input.constraints);
  let constraints = input.constraints && Object.keys(input.constraints).length > 0 ? input.constraints : null;

  let maxUses = input.max_uses ?? null;
  let allowRoutes = true;
  if (role === "issuer") {
    const d = checkIssuerPolicy(caller.key.policy, {
      service: input.service,
      scopes,
      ttlMs,
      ttlDefaulted: input.ttl === undefined,
      maxUses,
      rate,
      agent: input.agent,
    });
    if (!d.ok) return deny(d.reason, d.message);
    ttlMs = d.ttlMs;
    maxUses = d.maxUses;
    allowRoutes = d.allowRoutes;
    rate = d.rate;
    // The rule's constraints always apply: the nonce can only be narrower than its policy.
    if (d.constraints) {
      constraints = mergeConstraints(constraints, d.constraints);
      parseConstraints(constraints);
    }
  }

  const service = await services.get(input.service);
  if (!service) throw new AppError("service_not_found", `no service named ${JSON.stringify(input.service)}`);
  const isAws = service.auth.type === "aws_sigv4";
  if (!isAws && input.aws) throw new AppError("invalid_request", "aws is only for nonces of aws_sigv4 services");
  const routes = isAws
    ? resolveAwsScopes(service.scopes, scopes, allowRoutes, input.aws?.resources)
    : resolveScopes(service.scopes, scopes, allowRoutes);
  const credentialParams = resolveCredentialParams(service, input);
  if (!service.credential) {
    throw new AppError("credential_missing", `service ${JSON.stringify(service.name)} has no credential set`);
  }

  const token = generateToken("an", now);
  const record: NonceRecord = {
    id: newId("nce", now),
    tokenKey: tokenKey(token),
    service: service.name,
    scopes,
    routes,
    agent: input.agent,
    task,
    maxUses,
    uses: 0,
    constraints,
    rate,
    metadata: input.metadata ?? null,
    credentialParams,
    issuedBy: caller.key.id,
    createdAt: now,
    expiresAt: now + ttlMs,
    revokedAt: null,
    ...(input.canary ? { canary: true } : {}),
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
        data: {
          expires_at: new Date(record.expiresAt).toISOString(),
          max_uses: maxUses,
          ...(rate === null ? {} : { rate }),
          ...(constraints === null ? {} : { constraints }),
          ...(credentialParams === null ? {} : credentialParams),
          ...(input.canary ? { canary: true } : {}),
        },
      },
      now,
    ),
  );
  ctx.metrics.noncesIssued.inc({ service: record.service });
  if (isAws && service.auth.aws) {
    const aws = {
      access_key_id: record.id,
      secret_access_key: awsNonceSecret(ctx.masterKeys, record.id, record.tokenKey),
      region: service.auth.aws.region,
    };
    return { record, token, aws };
  }
  return { record, token };
}
