import type {
  ApiKey,
  AuditEvent,
  CreateNonceParams,
  DelegateNonceParams,
  IssuerPolicy,
  NonceInfo,
  Service,
  ServiceAuth,
  ServiceInput,
  Template,
} from "./types.js";

/**
 * snake_case (wire) ↔ camelCase (SDK). Conversion is explicit per field rather than a deep key rewrite, so
 * user-owned maps (scope catalogs, metadata, constraints) pass through untouched.
 */

// biome-ignore lint/suspicious/noExplicitAny: wire JSON is untyped until mapped here.
export type Wire = Record<string, any>;

export function date(v: unknown): Date | null {
  if (v === null || v === undefined) return null;
  const d = new Date(v as string | number);
  return Number.isNaN(d.getTime()) ? null : d;
}

function str(v: unknown): string | null {
  return typeof v === "string" ? v : null;
}

function num(v: unknown): number | null {
  return typeof v === "number" ? v : null;
}

function obj(v: unknown): Record<string, unknown> | null {
  return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

export function nonceCreateToWire(p: CreateNonceParams): Wire {
  const out: Wire = { service: p.service, scope: p.scope, agent: p.agent };
  if (p.ttl !== undefined) out.ttl = p.ttl;
  if (p.task !== undefined) out.task = p.task;
  if (p.maxUses !== undefined) out.max_uses = p.maxUses;
  if (p.rate !== undefined) out.rate = p.rate;
  if (p.constraints !== undefined) out.constraints = p.constraints;
  if (p.metadata !== undefined) out.metadata = p.metadata;
  if (p.canary !== undefined) out.canary = p.canary;
  return out;
}

export function nonceDelegateToWire(p: DelegateNonceParams): Wire {
  const out: Wire = { scope: p.scope };
  if (p.ttl !== undefined) out.ttl = p.ttl;
  if (p.maxUses !== undefined) out.max_uses = p.maxUses;
  if (p.agent !== undefined) out.agent = p.agent;
  if (p.task !== undefined) out.task = p.task;
  if (p.rate !== undefined) out.rate = p.rate;
  if (p.constraints !== undefined) out.constraints = p.constraints;
  return out;
}

export function nonceInfoFromWire(w: Wire): NonceInfo {
  const info: NonceInfo = {
    id: w.id,
    service: w.service,
    scopes: Array.isArray(w.scopes) ? w.scopes : [],
    agent: w.agent,
    task: str(w.task),
    status: w.status,
    uses: num(w.uses) ?? 0,
    maxUses: num(w.max_uses),
    rate: str(w.rate),
    createdAt: date(w.created_at) as Date,
    expiresAt: date(w.expires_at) as Date,
    revokedAt: date(w.revoked_at),
    parentId: str(w.parent_id),
    depth: num(w.depth) ?? 0,
    canary: w.canary === true,
  };
  if ("metadata" in w) info.metadata = obj(w.metadata);
  return info;
}

function authFromWire(w: unknown): ServiceAuth {
  const a = obj(w) ?? {};
  const out: ServiceAuth = { type: a.type as ServiceAuth["type"] };
  if (typeof a.name === "string") out.name = a.name;
  if (typeof a.prefix === "string") out.prefix = a.prefix;
  return out;
}

export function serviceInputToWire(s: ServiceInput): Wire {
  const out: Wire = {};
  if (s.template !== undefined) out.template = s.template;
  if (s.upstream !== undefined) out.upstream = s.upstream;
  if (s.auth !== undefined) out.auth = s.auth;
  if (s.scopes !== undefined) out.scopes = s.scopes;
  if (s.insecureUpstream !== undefined) out.insecure_upstream = s.insecureUpstream;
  return out;
}

export function serviceFromWire(w: Wire): Service {
  // Accept either a nested `credential` object or flat `credential_*` fields.
  const c = obj(w.credential);
  const fingerprint = str(c?.fingerprint) ?? str(w.credential_fingerprint);
  const updated = c ? c.updated_at : w.credential_updated_at;
  return {
    name: w.name,
    template: str(w.template),
    upstream: w.upstream,
    auth: authFromWire(w.auth),
    scopes: (obj(w.scopes) as Record<string, string[]> | null) ?? {},
    insecureUpstream: w.insecure_upstream === true,
    credential: fingerprint ? { fingerprint, updatedAt: date(updated) } : null,
    createdAt: date(w.created_at),
    updatedAt: date(w.updated_at),
  };
}

export function policyFromWire(w: unknown): IssuerPolicy | null {
  const p = obj(w);
  if (!p) return null;
  return p as unknown as IssuerPolicy;
}

export function keyFromWire(w: Wire): ApiKey {
  return {
    id: w.id,
    name: w.name,
    role: w.role,
    policy: policyFromWire(w.policy),
    createdBy: str(w.created_by),
    createdAt: date(w.created_at),
    revokedAt: date(w.revoked_at),
  };
}

export function auditFromWire(w: Wire): AuditEvent {
  const r = obj(w.request);
  const actor = obj(w.actor);
  return {
    id: w.id,
    seq: num(w.seq),
    time: date(w.time) as Date,
    type: w.type,
    actor: actor ? { type: String(actor.type), id: String(actor.id), name: String(actor.name) } : null,
    agent: str(w.agent),
    task: str(w.task),
    nonceId: str(w.nonce_id),
    service: str(w.service),
    scopes: Array.isArray(w.scopes) ? w.scopes : null,
    reason: str(w.reason),
    request: r
      ? {
          method: String(r.method),
          path: String(r.path),
          status: num(r.status),
          durationMs: num(r.duration_ms),
          bytes: num(r.bytes),
        }
      : null,
    sourceIp: str(w.source_ip),
    data: obj(w.data),
    prevHash: str(w.prev_hash),
    hash: str(w.hash),
  };
}

export function templateFromWire(w: Wire): Template {
  return {
    name: w.name,
    description: str(w.description),
    source: str(w.source),
    upstream: w.upstream,
    auth: authFromWire(w.auth),
    scopes: (obj(w.scopes) as Record<string, string[]> | null) ?? {},
  };
}
