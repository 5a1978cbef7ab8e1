import { mergeConstraints, parseConstraints } from "../core/constraints.js";
import { AppError } from "../core/errors.js";
import { newId } from "../core/ids.js";
import { parseRate, rateWithin } from "../core/rate.js";
import { uncoveredRoutes } from "../core/route-cover.js";
import { isRoutePattern, resolveScopes, scopeFamily } from "../core/scopes.js";
import { generateToken, isWellFormed, tokenKey } from "../core/tokens.js";
import { resolveTtl } from "../core/ttl.js";
import type { NonceRecord } from "../core/types.js";
import type { AuditStore, NonceStore } from "../store/store.js";
import { draftEvent } from "./audit-draft.js";
import type { AppContext } from "./context.js";
import type { IssuedNonce } from "./issue-nonce.js";
import type { ServiceCache } from "./service-cache.js";

/** A root nonce has depth 0; its delegation chain may go this deep below it (DESIGN.md "Delegation"). */
export const MAX_DELEGATION_DEPTH = 4;

export interface DelegateInput {
  scope: string | string[];
  ttl?: string | number | undefined;
  max_uses?: number | undefined;
  agent?: string | undefined;
  task?: string | undefined;
  rate?: string | undefined;
  constraints?: Record<string, unknown> | undefined;
}

const DEAD_CODES = { revoked: "nonce_revoked", exhausted: "nonce_exhausted", expired: "nonce_expired" } as const;

function refuse(reason: string, message: string): never {
  throw new AppError("delegation_denied", message, { reason });
}

/**
 * `POST /v1/nonces/delegate`: the parent nonce (presented as the bearer token) hands a sub-agent a narrower
 * child. Order: the parent must be alive (its own 401 otherwise, lineage included), then depth, then every
 * dimension of the child is checked against the parent (routes ⊆, expiry ≤, uses ≤ remaining, rate within,
 * constraints AND-merged), then one insert transaction writes the child and `nonce.delegated`. A refusal issues
 * nothing. The child inherits the parent's issuer (issuer read access and revocation by key keep working), its
 * service and its minted-credential parameters.
 */
export async function delegateNonce(
  ctx: AppContext<NonceStore & AuditStore>,
  services: ServiceCache,
  authorization: string | undefined,
  input: DelegateInput,
  sourceIp: string | null,
): Promise<IssuedNonce> {
  const now = ctx.clock.now();
  const m = /^Bearer (\S+)$/i.exec(authorization ?? "");
  const token = m?.[1];
  if (token === undefined || !isWellFormed(token, "an")) {
    throw new AppError("nonce_invalid", "delegation needs the parent nonce as a Bearer token");
  }
  const key = tokenKey(token);
  const parent = await ctx.store.getNonceByKey(key);
  if (!parent) throw new AppError("nonce_invalid", "nonce is not valid");
  if (parent.canary) {
    // A tripwire presented anywhere is an alert; it never delegates.
    await ctx.store.appendAudit([
      draftEvent(
        "nonce.canary_tripped",
        { type: "nonce", id: parent.id, name: parent.agent },
        {
          agent: parent.agent,
          task: parent.task,
          nonceId: parent.id,
          service: parent.service,
          scopes: parent.scopes,
          reason: "canary",
          request: { method: "POST", path: "/v1/nonces/delegate", status: 401, duration_ms: null, bytes: null },
        },
        now,
        sourceIp,
      ),
    ]);
    throw new AppError("nonce_invalid", "nonce is not valid");
  }
  const status = await ctx.store.getNonceStatus(key, now);
  if (status === undefined) throw new AppError("nonce_invalid", "nonce is not valid");
  if (status !== "active") throw new AppError(DEAD_CODES[status], `nonce is ${status}`);

  let child: ChildTerms;
  try {
    child = await childTerms(ctx, services, parent, input, now);
  } catch (e) {
    if (e instanceof AppError && (e.code === "delegation_denied" || e.code === "delegation_too_deep")) {
      await auditRefusal(ctx, parent, input, e, now, sourceIp);
    }
    throw e;
  }
  const { depth, scopes, routes, expiresAt, maxUses, rate, constraints } = child;

  const childToken = generateToken("an", now);
  const record: NonceRecord = {
    id: newId("nce", now),
    tokenKey: tokenKey(childToken),
    service: parent.service,
    scopes,
    routes,
    agent: input.agent ?? parent.agent,
    task: input.task ?? parent.task,
    maxUses,
    uses: 0,
    constraints,
    rate,
    metadata: null,
    ...(parent.credentialParams ? { credentialParams: parent.credentialParams } : {}),
    issuedBy: parent.issuedBy,
    createdAt: now,
    expiresAt,
    revokedAt: null,
    parentId: parent.id,
    depth,
  };
  await ctx.store.insertNonce(
    record,
    draftEvent(
      "nonce.delegated",
      { type: "nonce", id: parent.id, name: parent.agent },
      {
        agent: record.agent,
        task: record.task,
        nonceId: record.id,
        service: record.service,
        scopes,
        data: {
          parent_id: parent.id,
          depth,
          expires_at: new Date(expiresAt).toISOString(),
          max_uses: maxUses,
          ...(rate === null ? {} : { rate }),
          ...(constraints === null ? {} : { constraints }),
        },
      },
      now,
      sourceIp,
    ),
  );
  ctx.metrics.noncesIssued.inc({ service: record.service });
  return { record, token: childToken };
}

interface ChildTerms {
  depth: number;
  scopes: string[];
  routes: NonceRecord["routes"];
  expiresAt: number;
  maxUses: number | null;
  rate: string | null;
  constraints: NonceRecord["constraints"];
}

/** Every dimension of the child checked against its parent; throws the refusal (nothing issued). */
async function childTerms(
  ctx: AppContext<unknown>,
  services: ServiceCache,
  parent: NonceRecord,
  input: DelegateInput,
  now: number,
): Promise<ChildTerms> {
  const depth = (parent.depth ?? 0) + 1;
  if (depth > MAX_DELEGATION_DEPTH) {
    throw new AppError(
      "delegation_too_deep",
      `a delegation chain is at most ${MAX_DELEGATION_DEPTH} deep below its root nonce`,
      { max_depth: MAX_DELEGATION_DEPTH },
    );
  }

  const service = await services.get(parent.service);
  if (!service) throw new AppError("service_not_found", "the parent nonce's service no longer exists");
  if (service.auth.type === "aws_sigv4") throw new AppError("invalid_request", "aws nonces cannot be delegated");

  const scopes = [...new Set(Array.isArray(input.scope) ? input.scope : [input.scope])];
  for (const s of scopes) {
    const family = scopeFamily(s);
    // A family member (an MCP tool) is also checked by name at the gateway: it must be one the parent holds.
    if (family !== null && !isRoutePattern(s) && !parent.scopes.includes(s) && !parent.scopes.includes(family)) {
      refuse("scope", `scope ${JSON.stringify(s)} is not within the parent nonce's scopes`);
    }
  }
  const routes = resolveScopes(service.scopes, scopes, true);
  const wider = uncoveredRoutes(parent.routes, routes);
  if (wider.length > 0) {
    refuse("scope", `route ${JSON.stringify(wider[0])} is not within the parent nonce's routes`);
  }

  let expiresAt = parent.expiresAt;
  if (input.ttl !== undefined) {
    const ttlMs = resolveTtl(input.ttl, {
      defaultMs: ctx.config.ttl.default,
      minMs: ctx.config.ttl.min,
      maxMs: ctx.config.ttl.max,
    });
    if (now + ttlMs > parent.expiresAt) refuse("ttl", "the child nonce would outlive its parent");
    expiresAt = now + ttlMs;
  }

  const remaining = parent.maxUses === null ? null : parent.maxUses - parent.uses;
  let maxUses = input.max_uses ?? remaining;
  if (input.max_uses !== undefined && remaining !== null && input.max_uses > remaining) {
    refuse("uses", `the parent nonce has ${remaining} uses left`);
  }
  maxUses = maxUses ?? null;

  let rate = parent.rate ?? null;
  if (input.rate !== undefined) {
    const own = parseRate(input.rate);
    if (rate !== null && !rateWithin(own, parseRate(rate))) refuse("rate", `rate ${input.rate} is wider than ${rate}`);
    rate = input.rate;
  }

  if (input.constraints) parseConstraints(input.constraints);
  const own = input.constraints && Object.keys(input.constraints).length > 0 ? input.constraints : null;
  const constraints = mergeConstraints(own, parent.constraints);
  if (constraints) parseConstraints(constraints);

  return { depth, scopes, routes, expiresAt, maxUses, rate, constraints };
}

/**
 * A refused delegation is an audited issuance denial (`nonce.issue_denied`, as a policy refusal of `POST
 * /v1/nonces` is), by the parent nonce: reason `delegation_<dimension>` or `delegation_too_deep`, the scopes it
 * asked for. Best effort: the refusal stands if the audit write fails. A malformed request (400) is not audited.
 */
async function auditRefusal(
  ctx: AppContext<AuditStore>,
  parent: NonceRecord,
  input: DelegateInput,
  e: AppError,
  now: number,
  sourceIp: string | null,
): Promise<void> {
  const dimension = e.details?.reason;
  const reason = e.code === "delegation_too_deep" ? e.code : `delegation_${String(dimension ?? "denied")}`;
  ctx.metrics.issueDenied.inc({ reason });
  try {
    await ctx.store.appendAudit([
      draftEvent(
        "nonce.issue_denied",
        { type: "nonce", id: parent.id, name: parent.agent },
        {
          agent: input.agent ?? parent.agent,
          task: input.task ?? parent.task,
          nonceId: parent.id,
          service: parent.service,
          scopes: [...new Set(Array.isArray(input.scope) ? input.scope : [input.scope])],
          reason,
          data: { parent_id: parent.id, depth: (parent.depth ?? 0) + 1 },
        },
        now,
        sourceIp,
      ),
    ]);
  } catch (err) {
    ctx.log.error({ err: err instanceof Error ? err.name : "error" }, "delegation refusal audit write failed");
  }
}

/** Lineage for views: `parent_id` and `depth` of any nonce (a root: null and 0). */
export function lineageOf(n: NonceRecord): { parent_id: string | null; depth: number } {
  return { parent_id: n.parentId ?? null, depth: n.depth ?? 0 };
}
