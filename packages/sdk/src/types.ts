/** Public, camelCase shapes the SDK returns and accepts. The wire format (snake_case) is in wire.ts. */

export type Role = "admin" | "issuer" | "auditor" | "approver";
export type AuthType = "bearer" | "basic" | "header" | "query";
export type NonceStatus = "active" | "expired" | "revoked" | "exhausted";
/** `"30s"`, `"5m"`, `"1h"`, `"1h30m"`, or a number of seconds. */
export type Ttl = string | number;

export interface CreateNonceParams {
  service: string;
  /** A catalog scope (`read:customers`), a route pattern (`GET /v1/customers/{id}`), or several. */
  scope: string | string[];
  ttl?: Ttl;
  agent: string;
  task?: string;
  maxUses?: number;
  /** Per-nonce rate limit, `"60/m"` (count per s, m or h), exact across gateway replicas. */
  rate?: string;
  /** Request constraints, e.g. `{"POST /v1/refunds": {"body.amount": {"max": 5000}}}` (see docs/api.md). */
  constraints?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  /** A tripwire: a nonce never meant to be used. Any presentation is refused and alerts every audit sink. */
  canary?: boolean;
}

/** `nonce.delegate(...)`: a narrower child of a live nonce (scopes, expiry, uses, rate within the parent's). */
export interface DelegateNonceParams {
  scope: string | string[];
  /** At most the parent's remaining lifetime (the default). */
  ttl?: Ttl;
  /** At most the parent's remaining uses (the default). */
  maxUses?: number;
  /** Default: the parent's agent and task. */
  agent?: string;
  task?: string;
  rate?: string;
  /** AND-merged with the parent's constraints. */
  constraints?: Record<string, unknown>;
}

export interface NonceInfo {
  id: string;
  service: string;
  scopes: string[];
  agent: string;
  task: string | null;
  status: NonceStatus;
  uses: number;
  maxUses: number | null;
  rate: string | null;
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
  metadata?: Record<string, unknown> | null;
  /** Delegation lineage: the parent's id (null for a root) and the depth below the root (0 for a root). */
  parentId: string | null;
  depth: number;
  canary: boolean;
}

export interface NonceListParams {
  agent?: string;
  task?: string;
  service?: string;
  status?: NonceStatus;
  limit?: number;
  cursor?: string;
}

export interface NoncePage {
  nonces: NonceInfo[];
  nextCursor: string | null;
}

export interface AuditPage {
  events: AuditEvent[];
  nextCursor: string | null;
}

export interface RevokeWhereParams {
  task?: string;
  agent?: string;
  service?: string;
}

export interface ServiceAuth {
  type: AuthType;
  /** Header name (type "header") or query parameter name (type "query"). */
  name?: string;
  prefix?: string;
}

/** Scope catalog: scope name → route patterns (`"GET /v1/customers/{id}"`). */
export type ScopeCatalog = Record<string, string[]>;

export interface ServiceInput {
  template?: string;
  upstream?: string;
  auth?: ServiceAuth;
  scopes?: ScopeCatalog;
  insecureUpstream?: boolean;
}

export interface Service {
  name: string;
  template: string | null;
  upstream: string;
  auth: ServiceAuth;
  scopes: ScopeCatalog;
  insecureUpstream: boolean;
  /** Only a fingerprint and a time: credentials are write-only. */
  credential: { fingerprint: string; updatedAt: Date | null } | null;
  createdAt: Date | null;
  updatedAt: Date | null;
}

export type CredentialInput = string | { username: string; password: string };

export interface CredentialReceipt {
  fingerprint: string;
  updatedAt: Date | null;
}

/**
 * An issuer policy is a document, written the same way everywhere (API, CLI `--policy`, config, SDK), so its
 * fields keep the API's snake_case spelling instead of being renamed.
 */
export interface PolicyRule {
  service: string;
  /** Catalog scope names, or `*` for all of the service's catalog scopes. */
  scopes: string[];
  max_ttl?: Ttl;
  max_uses?: number;
  allow_routes?: boolean;
  /** Constraints every nonce issued under this rule carries (AND-merged into the nonce's own). */
  constraints?: Record<string, unknown>;
  /** Loosest rate a nonce issued under this rule may carry, e.g. `"60/m"`; the default rate too. */
  max_rate?: string;
  /** A human approves each nonce under this rule; `timeout` (default "15m") before it expires as denied. */
  approval?: { required: boolean; timeout?: Ttl };
}

export interface IssuerPolicy {
  allow: PolicyRule[];
  /** Globs (`*` wildcard) the `agent` field must match. */
  agents?: string[];
}

export interface ApiKey {
  id: string;
  name: string;
  role: Role;
  policy: IssuerPolicy | null;
  createdBy: string | null;
  createdAt: Date | null;
  revokedAt: Date | null;
}

export interface CreatedApiKey extends ApiKey {
  /** The `ank_…` key. Shown once: store it now. */
  key: string;
}

export interface CreateKeyParams {
  name: string;
  role: Role;
  policy?: IssuerPolicy;
}

export interface AuditActor {
  type: string;
  id: string;
  name: string;
}

export interface AuditRequest {
  method: string;
  path: string;
  status: number | null;
  durationMs: number | null;
  bytes: number | null;
}

export interface AuditEvent {
  id: string;
  seq: number | null;
  time: Date;
  type: string;
  actor: AuditActor | null;
  agent: string | null;
  task: string | null;
  nonceId: string | null;
  service: string | null;
  scopes: string[] | null;
  reason: string | null;
  request: AuditRequest | null;
  sourceIp: string | null;
  data: Record<string, unknown> | null;
  prevHash: string | null;
  hash: string | null;
}

export interface AuditListParams {
  agent?: string;
  task?: string;
  nonce?: string;
  service?: string;
  type?: string;
  since?: Date | string;
  until?: Date | string;
  limit?: number;
  cursor?: string;
}

/** Filters for `audit.stream()` (as for `list`), plus where to start and how to stop. */
export interface AuditStreamParams extends Omit<AuditListParams, "cursor" | "limit" | "since" | "until"> {
  /** Resume after this seq (exclusive); default: only events from now on. */
  sinceSeq?: number;
  /** Start with the last `tail` matching events (ignored with `sinceSeq`). */
  tail?: number;
  /** Keep the stream open for new events (default true); false ends it after the backlog. */
  follow?: boolean;
  signal?: AbortSignal;
  /** Delay before reconnecting after a network failure. Default 1000 ms. */
  reconnectMs?: number;
}

export interface TaskReport {
  task: string;
  nonces: NonceInfo[];
  events: AuditEvent[];
  nextCursor: string | null;
}

export interface AuditVerifyResult {
  ok: boolean;
  /** Events verified (up to the first bad one). */
  events: number;
  /** First seq that does not verify, when `ok` is false. */
  firstBadSeq: number | null;
  reason: string | null;
  checkpoints: number;
  untrustedCheckpoints: number;
  /** 0, or the retention checkpoint the verified chain starts after. */
  fromSeq: number;
}

export interface AuditCheckpoint {
  seq: number;
  hash: string;
  time: Date;
  events: number;
  kid: string;
  publicKey: Record<string, unknown>;
  /** Compact JWS (EdDSA) of `{seq, hash, time, events}` (time in ms). */
  jws: string;
  trusted: boolean;
}

export interface AuditCheckpointPage {
  checkpoints: AuditCheckpoint[];
  nextCursor: string | null;
  signingKey: { kid: string; publicKey: Record<string, unknown> };
}

export interface Template {
  name: string;
  description: string | null;
  /** Where the template's routes come from (the provider's API reference). */
  source: string | null;
  upstream: string;
  auth: ServiceAuth;
  scopes: ScopeCatalog;
}
