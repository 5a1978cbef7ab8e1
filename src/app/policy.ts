import { parseConstraints } from "../core/constraints.js";
import { AppError } from "../core/errors.js";
import { parseRate, rateWithin } from "../core/rate.js";
import { isRoutePattern, scopeFamily } from "../core/scopes.js";
import { parseDuration } from "../core/ttl.js";
import type { IssuerPolicy, IssuerPolicyRule } from "../core/types.js";

/**
 * Issuer policy: pure, no I/O. An issuer key may issue a nonce only when one `allow` rule for the service admits
 * every requested scope, the TTL, the use count, the rate and the agent name. A rule's `constraints` are not a
 * condition but an obligation: the decision hands them back and issuance AND-merges them into the nonce's own. A denial carries a stable `reason` (recorded
 * in the `nonce.issue_denied` audit event and the metrics label) and a human message (returned in the 403).
 */

export type DenyReason =
  | "role_not_allowed"
  | "service_not_allowed"
  | "scope_not_allowed"
  | "routes_not_allowed"
  | "ttl_exceeds_policy"
  | "max_uses_exceeds_policy"
  | "rate_exceeds_policy"
  | "agent_not_allowed";

export interface IssueAsk {
  service: string;
  /** Catalog names and/or raw route patterns, as requested. */
  scopes: readonly string[];
  ttlMs: number;
  /** True when the caller gave no ttl: a rule's lower max_ttl then shortens it instead of denying. */
  ttlDefaulted?: boolean;
  maxUses: number | null;
  /** Requested rate (`"60/m"`, already valid) or null. */
  rate?: string | null;
  agent: string;
}

export type PolicyDecision =
  | {
      ok: true;
      ttlMs: number;
      maxUses: number | null;
      allowRoutes: boolean;
      /** The nonce's rate: the requested one, or the rule's max_rate when none was requested. */
      rate: string | null;
      /** Constraints the nonce must carry (the rule's), to be merged into the requested ones. */
      constraints: Record<string, unknown> | null;
      /** The rule wants a human decision first: how long the request may wait, ms. */
      approvalTimeoutMs?: number;
    }
  | { ok: false; reason: DenyReason; message: string };

/** `*` matches any run of characters (including none); everything else is literal. */
export function globToRegExp(glob: string): RegExp {
  const body = glob
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  return new RegExp(`^${body}$`, "s");
}

export function agentAllowed(policy: IssuerPolicy, agent: string): boolean {
  if (!policy.agents) return true;
  return policy.agents.some((g) => globToRegExp(g).test(agent));
}

function ruleTtlMs(rule: IssuerPolicyRule): number | null {
  if (rule.max_ttl === undefined) return null;
  try {
    return parseDuration(rule.max_ttl, "max_ttl");
  } catch {
    // A policy is validated when the key is created; an unparsable max_ttl here admits nothing.
    return 0;
  }
}

/** A rule admits a scope it names, or a member of a family it names (`tool:*` admits `tool:search`). */
function ruleAdmits(ruleScopes: readonly string[], scope: string): boolean {
  if (ruleScopes.includes(scope)) return true;
  const family = scopeFamily(scope);
  return family !== null && ruleScopes.includes(family);
}

function checkRule(rule: IssuerPolicyRule, ask: IssueAsk): PolicyDecision {
  const all = rule.scopes.includes("*");
  for (const s of ask.scopes) {
    if (isRoutePattern(s)) {
      if (rule.allow_routes !== true) {
        return { ok: false, reason: "routes_not_allowed", message: "this API key may not issue raw route scopes" };
      }
    } else if (!all && !ruleAdmits(rule.scopes, s)) {
      return {
        ok: false,
        reason: "scope_not_allowed",
        message: `scope ${JSON.stringify(s)} is outside this API key's policy`,
      };
    }
  }
  const maxTtl = ruleTtlMs(rule);
  let ttlMs = ask.ttlMs;
  if (maxTtl !== null && ttlMs > maxTtl && ask.ttlDefaulted === true && maxTtl > 0) ttlMs = maxTtl;
  if (maxTtl !== null && ttlMs > maxTtl) {
    return {
      ok: false,
      reason: "ttl_exceeds_policy",
      message: `ttl exceeds this API key's maximum of ${maxTtl / 1000}s`,
    };
  }
  let maxUses = ask.maxUses;
  if (rule.max_uses !== undefined) {
    if (maxUses === null) maxUses = rule.max_uses;
    else if (maxUses > rule.max_uses) {
      return {
        ok: false,
        reason: "max_uses_exceeds_policy",
        message: `max_uses exceeds this API key's maximum of ${rule.max_uses}`,
      };
    }
  }
  let rate = ask.rate ?? null;
  if (rule.max_rate !== undefined) {
    if (rate === null) rate = rule.max_rate;
    else if (!rateWithinRule(rate, rule.max_rate)) {
      return {
        ok: false,
        reason: "rate_exceeds_policy",
        message: `rate is looser than this API key's max_rate of ${rule.max_rate}`,
      };
    }
  }
  return {
    ok: true,
    ttlMs,
    maxUses,
    allowRoutes: rule.allow_routes === true,
    rate,
    constraints: rule.constraints ?? null,
    ...(rule.approval?.required === true ? { approvalTimeoutMs: approvalTimeoutMs(rule) } : {}),
  };
}

export const DEFAULT_APPROVAL_TIMEOUT_MS = 15 * 60_000;
const MAX_APPROVAL_TIMEOUT_MS = 24 * 3600_000;

function approvalTimeoutMs(rule: IssuerPolicyRule): number {
  const t = rule.approval?.timeout;
  if (t === undefined) return DEFAULT_APPROVAL_TIMEOUT_MS;
  try {
    return Math.min(parseDuration(t, "approval.timeout"), MAX_APPROVAL_TIMEOUT_MS);
  } catch {
    // Validated when the key is created; an unparsable timeout here gives the default.
    return DEFAULT_APPROVAL_TIMEOUT_MS;
  }
}

function rateWithinRule(rate: string, maxRate: string): boolean {
  try {
    return rateWithin(parseRate(rate), parseRate(maxRate));
  } catch {
    // A policy is validated when the key is created; an unparsable max_rate here admits nothing.
    return false;
  }
}

/**
 * Decides an issuer's request. Several rules may name the same service: the first that admits the whole request
 * wins; otherwise the first rule's denial is reported (rules are evaluated in the order the admin wrote them).
 */
export function checkIssuerPolicy(policy: IssuerPolicy | null, ask: IssueAsk): PolicyDecision {
  if (!policy) return { ok: false, reason: "service_not_allowed", message: "this API key has no issuance policy" };
  const rules = policy.allow.filter((r) => r.service === ask.service);
  if (rules.length === 0) {
    return {
      ok: false,
      reason: "service_not_allowed",
      message: `service ${JSON.stringify(ask.service)} is outside this API key's policy`,
    };
  }
  if (!agentAllowed(policy, ask.agent)) {
    return { ok: false, reason: "agent_not_allowed", message: "agent is outside this API key's policy" };
  }
  let firstDenial: PolicyDecision | null = null;
  for (const rule of rules) {
    const d = checkRule(rule, ask);
    if (d.ok) return d;
    firstDenial ??= d;
  }
  return firstDenial as PolicyDecision;
}

/** Services an issuer may see (its policy's services). */
export function policyServices(policy: IssuerPolicy | null): Set<string> {
  return new Set(policy?.allow.map((r) => r.service) ?? []);
}

/** Checks what zod cannot: durations, rates and constraints parse. Throws `invalid_request` naming the field. */
export function validatePolicy(policy: IssuerPolicy): void {
  policy.allow.forEach((rule, i) => {
    if (rule.max_ttl !== undefined) parseDuration(rule.max_ttl, `policy.allow.${i}.max_ttl`);
    if (rule.max_rate !== undefined) parseRate(rule.max_rate, `policy.allow.${i}.max_rate`);
    if (rule.approval?.timeout !== undefined) {
      const ms = parseDuration(rule.approval.timeout, `policy.allow.${i}.approval.timeout`);
      if (ms > MAX_APPROVAL_TIMEOUT_MS) {
        throw new AppError("invalid_request", `policy.allow.${i}.approval.timeout: at most 24h`);
      }
    }
    if (rule.constraints !== undefined) {
      try {
        parseConstraints(rule.constraints);
      } catch (e) {
        const why = e instanceof Error ? e.message.replace(/^constraints: /, "") : "invalid";
        const code = e instanceof AppError && e.code === "pattern_unsupported" ? e.code : "invalid_request";
        throw new AppError(code, `policy.allow.${i}.constraints: ${why}`);
      }
    }
  });
}
