import { resolveAwsScopes } from "../core/aws/grants.js";
import { awsNonceSecret } from "../core/aws/nonce-credentials.js";
import { mergeConstraints, parseConstraints } from "../core/constraints.js";
import { AppError } from "../core/errors.js";
import { newId } from "../core/ids.js";
import { parseRate } from "../core/rate.js";
import { resolveScopes } from "../core/scopes.js";
import { generateToken, tokenKey } from "../core/tokens.js";
import { resolveTtl } from "../core/ttl.js";
import type { ApprovalRecord, AuditDraft, NonceRecord } from "../core/types.js";
import type { ApprovalStore, AuditStore, NonceStore } from "../store/store.js";
import { requestApproval } from "./approvals.js";
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

/** What issuance decided before the service lookup: stored as an approval's `request` while a human decides. */
export interface IssuePlan {
  service: string;
  scopes: string[];
  agent: string;
  task: string | null;
  ttlMs: number;
  maxUses: number | null;
  rate: string | null;
  constraints: Record<string, unknown> | null;
  metadata: Record<string, unknown> | null;
  allowRoutes: boolean;
  github?: { repositories: string[] } | undefined;
  aws?: { resources: string[] } | undefined;
  canary?: boolean | undefined;
}

export type IssueOutcome = ({ kind: "issued" } & IssuedNonce) | { kind: "pending"; approval: ApprovalRecord };

/**
 * Issuance. Order matters: cheap input checks, then the issuer policy (a denial is audited and nothing is
 * issued), then one service lookup (cached), then one insert transaction that also writes `nonce.issued`.
 * A policy rule with `approval.required` stops after the checks: the request waits (src/app/approvals.ts).
 */
/** What issuance writes: the nonce and its event, or the approval request. */
export type IssuanceStore = NonceStore & AuditStore & ApprovalStore;

export async function issueNonce(
  ctx: AppContext<IssuanceStore>,
  services: ServiceCache,
  caller: Caller,
  input: IssueInput,
): Promise<IssueOutcome> {
  const now = ctx.clock.now();
  const { plan, approvalTimeoutMs } = await planIssue(ctx, caller, input, now);
  if (approvalTimeoutMs !== undefined) {
    // Everything a later issuance would refuse (unknown service or scope, no credential) is refused now.
    await buildNonce(ctx, services, caller, plan, now, now);
    return { kind: "pending", approval: await requestApproval(ctx, caller, plan, approvalTimeoutMs, now) };
  }
  const built = await buildNonce(ctx, services, caller, plan, now, now);
  await insertIssued(ctx, caller, built.issued.record, now, (r, audit) => ctx.store.insertNonce(r, audit));
  return { kind: "issued", ...built.issued };
}

async function planIssue(
  ctx: AppContext<NonceStore & AuditStore>,
  caller: Caller,
  input: IssueInput,
  now: number,
): Promise<{ plan: IssuePlan; approvalTimeoutMs?: number | undefined }> {
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
  let approvalTimeoutMs: number | undefined;
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
    approvalTimeoutMs = d.approvalTimeoutMs;
    // The rule's constraints always apply: the nonce can only be narrower than its policy.
    if (d.constraints) {
      constraints = mergeConstraints(constraints, d.constraints);
      parseConstraints(constraints);
    }
  }
  const plan: IssuePlan = {
    service: input.service,
    scopes,
    agent: input.agent,
    task,
    ttlMs,
    maxUses,
    rate,
    constraints,
    metadata: input.metadata ?? null,
    allowRoutes,
    github: input.github,
    aws: input.aws,
    canary: input.canary,
  };
  return { plan, approvalTimeoutMs };
}

/**
 * The nonce record and its token, not yet stored. `startAt` is when its TTL starts: now, or the approval's
 * decision time for an approved request.
 */
export async function buildNonce(
  ctx: AppContext<NonceStore & AuditStore>,
  services: ServiceCache,
  caller: Caller,
  plan: IssuePlan,
  startAt: number,
  now: number,
): Promise<{ issued: IssuedNonce }> {
  const { scopes, task, maxUses, rate, constraints } = plan;
  const service = await services.get(plan.service);
  if (!service) throw new AppError("service_not_found", `no service named ${JSON.stringify(plan.service)}`);
  const isAws = service.auth.type === "aws_sigv4";
  if (!isAws && plan.aws) throw new AppError("invalid_request", "aws is only for nonces of aws_sigv4 services");
  const routes = isAws
    ? resolveAwsScopes(service.scopes, scopes, plan.allowRoutes, plan.aws?.resources)
    : resolveScopes(service.scopes, scopes, plan.allowRoutes);
  const credentialParams = resolveCredentialParams(service, plan);
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
    agent: plan.agent,
    task,
    maxUses,
    uses: 0,
    constraints,
    rate,
    metadata: plan.metadata,
    credentialParams,
    issuedBy: caller.key.id,
    createdAt: now,
    expiresAt: startAt + plan.ttlMs,
    revokedAt: null,
    ...(plan.canary ? { canary: true } : {}),
  };
  if (isAws && service.auth.aws) {
    const aws = {
      access_key_id: record.id,
      secret_access_key: awsNonceSecret(ctx.masterKeys, record.id, record.tokenKey),
      region: service.auth.aws.region,
    };
    return { issued: { record, token, aws } };
  }
  return { issued: { record, token } };
}

/** Stores the nonce with its `nonce.issued` event through `insert` (a plain insert, or an approval's delivery). */
export async function insertIssued<T>(
  ctx: AppContext<NonceStore & AuditStore>,
  caller: Caller,
  record: NonceRecord,
  now: number,
  insert: (record: NonceRecord, audit: AuditDraft) => Promise<T>,
): Promise<T> {
  const { maxUses, rate, constraints, credentialParams, task, scopes } = record;
  const out = await insert(
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
          ...(rate == null ? {} : { rate }),
          ...(constraints === null ? {} : { constraints }),
          ...(credentialParams == null ? {} : credentialParams),
          ...(record.canary ? { canary: true } : {}),
        },
      },
      now,
    ),
  );
  ctx.metrics.noncesIssued.inc({ service: record.service });
  return out;
}
