import { AppError } from "../errors.js";
import type { ScopeCatalog } from "../types.js";

/**
 * What an `aws_sigv4` nonce may do: IAM actions (`s3:GetObject`, wildcards `*`/`?` as in IAM) and optionally the
 * resources (ARNs, same wildcards) they are narrowed to. Stored in the nonce's frozen `routes` list: the actions,
 * then the resources (an ARN always starts with `arn:`, an action never does). The same list becomes the STS
 * session policy, so what the gateway checks and what AWS enforces are one statement.
 */

export const IAM_ACTION = /^[a-z0-9-]{1,40}:[A-Za-z0-9*?]{1,128}$/;
// Printable ASCII without spaces or quotes: ARNs hold S3 keys, so almost anything else may appear.
export const IAM_RESOURCE =
  /^arn:(aws|aws-cn|aws-us-gov):[a-z0-9-]{1,40}:[a-z0-9-*]*:(\d{12}|\*)?:[\x21\x23-\x7e]{1,1024}$/;
/** AWS's packed limit for an inline session policy is 2048 characters. */
export const SESSION_POLICY_MAX = 2048;
export const MAX_RESOURCES = 20;

export interface AwsGrant {
  actions: string[];
  resources: string[];
}

export function isIamAction(s: string): boolean {
  return IAM_ACTION.test(s);
}

/** Validates an `aws_sigv4` service's catalog: scope name → IAM actions. */
export function validateAwsCatalog(catalog: ScopeCatalog): void {
  for (const [name, actions] of Object.entries(catalog)) {
    if (!/^[A-Za-z0-9_.:\-*]{1,100}$/.test(name)) {
      throw new AppError("invalid_request", `invalid scope name ${JSON.stringify(name)}`);
    }
    if (!Array.isArray(actions) || actions.length === 0) {
      throw new AppError("invalid_request", `scope ${JSON.stringify(name)} must list at least one IAM action`);
    }
    for (const a of actions) {
      if (!isIamAction(a)) {
        throw new AppError(
          "invalid_request",
          `scope ${JSON.stringify(name)}: ${JSON.stringify(a)} is not an IAM action`,
        );
      }
    }
  }
}

/**
 * Requested scopes → the nonce's frozen grant list. A catalog name expands to its actions; a raw IAM action is
 * taken as is only when the caller may issue raw scopes (admins, or issuer rules with `allow_routes`), like raw
 * routes for HTTP services. `resources` narrows every action.
 */
export function resolveAwsScopes(
  catalog: ScopeCatalog,
  requested: readonly string[],
  allowRaw: boolean,
  resources: readonly string[] | undefined,
): string[] {
  if (requested.length === 0) throw new AppError("invalid_request", "scope must name at least one scope");
  const actions = new Set<string>();
  for (const s of requested) {
    const entry = Object.hasOwn(catalog, s) ? catalog[s] : undefined;
    if (entry) {
      for (const a of entry) actions.add(a);
      continue;
    }
    if (isIamAction(s)) {
      if (!allowRaw) throw new AppError("forbidden", "this API key may not issue raw IAM action scopes");
      actions.add(s);
      continue;
    }
    throw new AppError("scope_unknown", `unknown scope ${JSON.stringify(s)} for this service`, { scope: s });
  }
  const res = [...new Set(resources ?? [])];
  if (res.length > MAX_RESOURCES) throw new AppError("invalid_request", `aws.resources: at most ${MAX_RESOURCES}`);
  for (const r of res) {
    if (!IAM_RESOURCE.test(r))
      throw new AppError("invalid_request", `aws.resources: ${JSON.stringify(r)} is not an ARN`);
  }
  const routes = [...actions, ...res];
  if (sessionPolicy(grantOf(routes)).length > SESSION_POLICY_MAX) {
    throw new AppError("invalid_request", "these scopes and resources exceed AWS's 2048-character session policy");
  }
  return routes;
}

export function grantOf(routes: readonly string[]): AwsGrant {
  const actions: string[] = [];
  const resources: string[] = [];
  for (const r of routes) (r.startsWith("arn:") ? resources : actions).push(r);
  return { actions, resources };
}

/** True when every entry of `routes` is an IAM action or ARN: the nonce belongs to an aws_sigv4 service. */
export function isAwsGrantList(routes: readonly string[]): boolean {
  return routes.length > 0 && routes.every((r) => r.startsWith("arn:") || isIamAction(r));
}

/** The STS session policy: exactly the nonce's grant, one Allow statement. */
export function sessionPolicy(g: AwsGrant): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Action: g.actions, Resource: g.resources.length > 0 ? g.resources : "*" }],
  });
}

/**
 * IAM wildcard match (`*` any run, `?` one character), iterative with one backtrack point: O(n·m) at worst on
 * bounded strings, never exponential.
 */
export function wildcardMatch(pattern: string, s: string): boolean {
  let p = 0;
  let i = 0;
  let star = -1;
  let mark = 0;
  while (i < s.length) {
    const pc = pattern[p];
    if (pc === "?" || (pc !== undefined && pc !== "*" && pc === s[i])) {
      p++;
      i++;
    } else if (pc === "*") {
      star = p++;
      mark = i;
    } else if (star >= 0) {
      p = star + 1;
      i = ++mark;
    } else return false;
  }
  while (pattern[p] === "*") p++;
  return p === pattern.length;
}

/** One thing a request does in IAM terms; `resource` null for actions that take none (e.g. GetCallerIdentity). */
export interface IamCheck {
  action: string;
  resource: string | null;
}

/** Why a check fails, or null when the grant allows every check (IAM action names are case-insensitive). */
export function denied(g: AwsGrant, checks: readonly IamCheck[]): IamCheck | null {
  for (const c of checks) {
    const action = c.action.toLowerCase();
    if (!g.actions.some((a) => wildcardMatch(a.toLowerCase(), action))) return c;
    if (g.resources.length === 0 || RESOURCELESS.has(action)) continue;
    const r = c.resource;
    if (r === null || !g.resources.some((p) => wildcardMatch(p, r))) return c;
  }
  return null;
}

// Actions AWS authorises without a resource-level check (narrowing cannot apply to them).
const RESOURCELESS = new Set(["sts:getcalleridentity"]);

/** RoleSessionName from agent and task: AWS allows `[\w+=,.@-]`, 2-64 characters. */
export function roleSessionName(agent: string, task: string | null): string {
  const raw = task ? `${agent}.${task}` : agent;
  let s = raw.replace(/[^\w+=,.@-]/g, "-").slice(0, 64);
  if (s.length < 2) s = `an-${s}`.slice(0, 64);
  return s;
}

/** STS DurationSeconds: at least AWS's minimum of 900 s, at most its 12 h maximum, else the nonce's remaining TTL. */
export function sessionDurationSeconds(expiresAt: number, now: number): number {
  return Math.min(43_200, Math.max(900, Math.ceil((expiresAt - now) / 1000)));
}
