import { AppError } from "../core/errors.js";
import { GLOB_MAX } from "../core/glob.js";
import type { IssuerPolicy, TrustRecord } from "../core/types.js";
import type { TrustStore } from "../store/store.js";
import { auditDraft, type Caller } from "./audit-draft.js";
import { requireRole } from "./auth.js";
import type { AppContext } from "./context.js";
import { checkIssuerUrl } from "./issuer-url.js";
import { validatePolicy } from "./policy.js";
import { SERVICE_NAME } from "./services.js";

/**
 * OIDC trust relationships (DESIGN.md "Orchestrator identity"): admin-managed. A trust says which tokens
 * (issuer, audience, subject and claim globs) act with which role and policy. The verifier is src/app/oidc.ts.
 */
export interface TrustInput {
  issuer: string;
  audience: string;
  subject?: string | undefined;
  claims?: Record<string, string> | undefined;
  role: "issuer" | "auditor";
  policy?: IssuerPolicy | undefined;
  jwks_uri?: string | undefined;
  insecure_issuer?: boolean | undefined;
}

/** Registered claims the verifier checks itself; a glob on them would be ignored or contradict `audience`. */
const RESERVED_CLAIMS = new Set(["iss", "aud", "exp", "nbf", "iat", "sub", "jti"]);
const MAX_CLAIMS = 32;

function validate(name: string, input: TrustInput): void {
  if (!SERVICE_NAME.test(name)) throw new AppError("invalid_request", "trust name must match ^[a-z][a-z0-9_-]{0,62}$");
  const insecure = input.insecure_issuer === true;
  checkIssuerUrl(input.issuer, "issuer", insecure);
  if (input.jwks_uri !== undefined) checkIssuerUrl(input.jwks_uri, "jwks_uri", insecure);
  if (input.audience.length === 0 || input.audience.length > GLOB_MAX) {
    throw new AppError("invalid_request", `audience must be 1-${GLOB_MAX} characters`);
  }
  if (input.subject !== undefined && (input.subject.length === 0 || input.subject.length > GLOB_MAX)) {
    throw new AppError("invalid_request", `subject must be a glob of 1-${GLOB_MAX} characters`);
  }
  const claims = Object.entries(input.claims ?? {});
  if (claims.length > MAX_CLAIMS) throw new AppError("invalid_request", `at most ${MAX_CLAIMS} claims`);
  for (const [k, v] of claims) {
    if (!/^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/.test(k))
      throw new AppError("invalid_request", `claim name ${k} is invalid`);
    if (RESERVED_CLAIMS.has(k)) {
      throw new AppError("invalid_request", `claim ${k} is checked by issuer/audience/subject/expiry, not claims`);
    }
    if (v.length === 0 || v.length > GLOB_MAX)
      throw new AppError("invalid_request", `claims.${k} must be 1-${GLOB_MAX} characters`);
  }
  // Same rule as API keys: an issuer without a policy could issue nothing; a policy on an auditor restricts nothing.
  if (input.role === "issuer" && !input.policy) throw new AppError("invalid_request", "an issuer trust needs a policy");
  if (input.role !== "issuer" && input.policy) {
    throw new AppError("invalid_request", `policy applies to issuer trusts only, not ${input.role}`);
  }
  if (input.policy) validatePolicy(input.policy);
}

export async function putTrust(
  ctx: AppContext<TrustStore>,
  caller: Caller,
  name: string,
  input: TrustInput,
): Promise<TrustRecord> {
  requireRole(caller.key, "admin");
  validate(name, input);
  const now = ctx.clock.now();
  const existing = await ctx.store.getTrust(name);
  const record: TrustRecord = {
    name,
    issuer: input.issuer,
    audience: input.audience,
    subject: input.subject ?? null,
    claims: input.claims && Object.keys(input.claims).length > 0 ? input.claims : null,
    role: input.role,
    policy: input.policy ?? null,
    jwksUri: input.jwks_uri ?? null,
    insecureIssuer: input.insecure_issuer === true,
    createdAt: existing?.createdAt ?? now,
    updatedAt: now,
  };
  await ctx.store.putTrust(
    record,
    auditDraft(
      ctx,
      caller,
      existing ? "trust.updated" : "trust.created",
      {
        data: {
          trust: name,
          issuer: record.issuer,
          audience: record.audience,
          subject: record.subject,
          claims: record.claims,
          role: record.role,
          insecure_issuer: record.insecureIssuer,
        },
      },
      now,
    ),
  );
  ctx.events.emit("trust.changed", name);
  return record;
}

export async function getTrust(ctx: AppContext<TrustStore>, caller: Caller, name: string): Promise<TrustRecord> {
  requireRole(caller.key, "admin");
  const t = await ctx.store.getTrust(name);
  if (!t) throw new AppError("trust_not_found", `no trust relationship named ${JSON.stringify(name)}`);
  return t;
}

export async function listTrusts(ctx: AppContext<TrustStore>, caller: Caller): Promise<TrustRecord[]> {
  requireRole(caller.key, "admin");
  return ctx.store.listTrusts();
}

export async function deleteTrust(ctx: AppContext<TrustStore>, caller: Caller, name: string): Promise<void> {
  requireRole(caller.key, "admin");
  const now = ctx.clock.now();
  const ok = await ctx.store.deleteTrust(
    name,
    auditDraft(ctx, caller, "trust.deleted", { data: { trust: name } }, now),
  );
  if (!ok) throw new AppError("trust_not_found", `no trust relationship named ${JSON.stringify(name)}`);
  ctx.events.emit("trust.changed", name);
}
