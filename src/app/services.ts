import { validateAwsCatalog } from "../core/aws/grants.js";
import { AppError } from "../core/errors.js";
import { validateCatalog } from "../core/scopes.js";
import type { AwsServiceConfig, ScopeCatalog, ServiceAuth, ServiceRecord } from "../core/types.js";
import type { ServiceStore } from "../store/store.js";
import { getTemplate } from "../templates/index.js";
import { auditDraft, type Caller } from "./audit-draft.js";
import { requireRole } from "./auth.js";
import type { AppContext } from "./context.js";
import { isDynamicAuth, validateDynamicAuth } from "./dynamic-auth.js";
import { policyServices } from "./policy.js";
import { validateUpstream } from "./upstream.js";

export const SERVICE_NAME = /^[a-z][a-z0-9_-]{0,62}$/;

export interface ServiceInput {
  template?: string | undefined;
  upstream?: string | undefined;
  auth?: ServiceAuth | undefined;
  scopes?: ScopeCatalog | undefined;
  insecure_upstream?: boolean | undefined;
  /** aws_sigv4 services only: the role to assume, and endpoint overrides per signing name. */
  aws?: AwsServiceConfig | undefined;
  endpoints?: Record<string, string> | undefined;
}

// Headers the gateway owns or that frame the message: a service may not inject its credential into these.
const RESERVED_HEADERS = new Set([
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
  "keep-alive",
  "upgrade",
  "te",
  "trailer",
  "proxy-authorization",
  "proxy-connection",
  "cookie",
  "x-agent-nonce",
  "forwarded",
]);

export function validateAuth(auth: ServiceAuth, insecureUpstream = false): ServiceAuth {
  if (isDynamicAuth(auth.type)) return validateDynamicAuth(auth, insecureUpstream);
  for (const k of ["app_id", "installation_id", "grant", "token_url", "client_id", "scope", "audience", "resource"]) {
    if (auth[k as keyof ServiceAuth] !== undefined) {
      throw new AppError("invalid_request", `auth.${k} is not used with auth.type ${auth.type}`);
    }
  }
  const { type, name, prefix } = auth;
  if ((type === "bearer" || type === "basic") && name !== undefined) {
    throw new AppError("invalid_request", `auth.name is not used with auth.type ${type}`);
  }
  if (type !== "header" && prefix !== undefined) {
    throw new AppError("invalid_request", "auth.prefix is only used with auth.type header");
  }
  if (type === "header") {
    // No "_" in header names: proxies disagree on whether it equals "-" (SECURITY.md rule 4).
    if (!name || !/^[A-Za-z0-9-]{1,64}$/.test(name) || RESERVED_HEADERS.has(name.toLowerCase())) {
      throw new AppError("invalid_request", "auth.name must be a header name (letters, digits, -) the gateway allows");
    }
    if (name.toLowerCase().startsWith("x-forwarded-")) {
      throw new AppError("invalid_request", "auth.name must not be an X-Forwarded-* header");
    }
    if (prefix !== undefined && !/^[\x20-\x7e]{1,32}$/.test(prefix)) {
      throw new AppError("invalid_request", "auth.prefix must be 1-32 printable ASCII characters");
    }
    return prefix === undefined ? { type, name } : { type, name, prefix };
  }
  if (type === "query") {
    if (!name || !/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
      throw new AppError("invalid_request", "auth.name must be a query parameter name (letters, digits, _ . -)");
    }
    return { type, name };
  }
  return { type };
}

function resolveDefinition(input: ServiceInput): Pick<ServiceRecord, "template" | "upstream" | "auth" | "scopes"> & {
  insecureUpstream: boolean;
} {
  const template = input.template === undefined ? undefined : getTemplate(input.template);
  if (input.template !== undefined && !template) {
    throw new AppError("template_not_found", `no template named ${JSON.stringify(input.template)}`);
  }
  const authIn = input.auth ?? template?.auth ?? { type: "bearer" };
  if (authIn.type === "aws_sigv4") return resolveAws(input, template?.name ?? null, template?.scopes ?? {});
  if (input.aws !== undefined || input.endpoints !== undefined) {
    throw new AppError("invalid_request", "aws and endpoints are only for aws_sigv4 services (template aws)");
  }
  const rawUpstream = input.upstream ?? template?.upstream;
  if (!rawUpstream) {
    const why = template ? `template ${template.name} names no upstream` : "no template is given";
    throw new AppError("invalid_request", `upstream is required when ${why}`);
  }
  const insecureUpstream = input.insecure_upstream ?? false;
  const scopes: ScopeCatalog = { ...(template?.scopes ?? {}), ...(input.scopes ?? {}) };
  validateCatalog(scopes);
  return {
    template: template?.name ?? null,
    upstream: validateUpstream(rawUpstream, insecureUpstream),
    auth: validateAuth(authIn, insecureUpstream),
    scopes,
    insecureUpstream,
  };
}

/**
 * An aws_sigv4 service: `aws` is required; the upstream recorded is the STS endpoint (the origin each signed
 * request goes to is chosen per AWS service, see gateway/aws/endpoints.ts); every endpoint is an upstream.
 */
function resolveAws(
  input: ServiceInput,
  template: string | null,
  templateScopes: ScopeCatalog,
): ReturnType<typeof resolveDefinition> {
  const aws = input.aws;
  if (!aws) throw new AppError("invalid_request", "aws {role_arn, region} is required for an aws_sigv4 service");
  if (input.upstream !== undefined) {
    throw new AppError("invalid_request", "aws services take endpoints.<service>, not upstream");
  }
  if (input.auth && (input.auth.name !== undefined || input.auth.prefix !== undefined)) {
    throw new AppError("invalid_request", "auth.name and auth.prefix are not used with aws_sigv4");
  }
  const insecureUpstream = input.insecure_upstream ?? false;
  const endpoints: Record<string, string> = {};
  for (const [name, url] of Object.entries(input.endpoints ?? {}))
    endpoints[name] = validateUpstream(url, insecureUpstream);
  const scopes: ScopeCatalog = { ...templateScopes, ...(input.scopes ?? {}) };
  validateAwsCatalog(scopes);
  const config: AwsServiceConfig = { role_arn: aws.role_arn, region: aws.region };
  if (aws.external_id !== undefined) config.external_id = aws.external_id;
  const auth: ServiceAuth = { type: "aws_sigv4", aws: config };
  if (Object.keys(endpoints).length > 0) auth.endpoints = endpoints;
  return {
    template,
    upstream: endpoints.sts ?? validateUpstream(`https://sts.${aws.region}.amazonaws.com`, false),
    auth,
    scopes,
    insecureUpstream,
  };
}

export async function putService(
  ctx: AppContext<ServiceStore>,
  caller: Caller,
  name: string,
  input: ServiceInput,
): Promise<ServiceRecord> {
  requireRole(caller.key, "admin");
  if (!SERVICE_NAME.test(name))
    throw new AppError("invalid_request", "service name must match ^[a-z][a-z0-9_-]{0,62}$");
  const def = resolveDefinition(input);
  const now = ctx.clock.now();
  const existing = await ctx.store.getService(name);
  await ctx.store.putService(
    { name, ...def, createdAt: existing?.createdAt ?? now, updatedAt: now },
    auditDraft(
      ctx,
      caller,
      existing ? "service.updated" : "service.created",
      {
        service: name,
        data: {
          template: def.template,
          upstream: def.upstream,
          auth_type: def.auth.type,
          insecure_upstream: def.insecureUpstream,
          scopes: Object.keys(def.scopes),
        },
      },
      now,
    ),
  );
  ctx.events.emit("service.changed", name);
  const after = await ctx.store.getService(name);
  if (!after) throw new Error("service vanished right after it was written");
  return after;
}

export async function getServiceFor(
  ctx: AppContext<ServiceStore>,
  caller: Caller,
  name: string,
): Promise<ServiceRecord> {
  requireRole(caller.key, "admin", "issuer");
  const s = await ctx.store.getService(name);
  if (!s || (caller.key.role === "issuer" && !policyServices(caller.key.policy).has(name))) {
    throw new AppError("service_not_found", `no service named ${JSON.stringify(name)}`);
  }
  return s;
}

/** Admins see every service; issuers see the services their policy names. */
export async function listServicesFor(ctx: AppContext<ServiceStore>, caller: Caller): Promise<ServiceRecord[]> {
  requireRole(caller.key, "admin", "issuer");
  const all = await ctx.store.listServices();
  if (caller.key.role === "admin") return all;
  const allowed = policyServices(caller.key.policy);
  return all.filter((s) => allowed.has(s.name));
}

/** Deletes the service; the store revokes its live nonces in the same transaction. */
export async function deleteService(ctx: AppContext<ServiceStore>, caller: Caller, name: string): Promise<void> {
  requireRole(caller.key, "admin");
  const now = ctx.clock.now();
  const ok = await ctx.store.deleteService(
    name,
    now,
    auditDraft(ctx, caller, "service.deleted", { service: name }, now),
  );
  if (!ok) throw new AppError("service_not_found", `no service named ${JSON.stringify(name)}`);
  ctx.events.emit("service.changed", name);
}
