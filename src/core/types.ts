/**
 * Domain records shared by the store, the control plane and the gateway. Times are integer milliseconds since
 * the epoch everywhere inside the process; the API renders ISO 8601.
 */

/** `approver` decides approval requests (src/app/approvals.ts) and nothing else. */
export type Role = "admin" | "issuer" | "auditor" | "approver";

/** Static kinds inject the sealed secret itself; dynamic kinds mint a short-lived credential from it
 * (src/gateway/minted/). */
export type StaticAuthType = "bearer" | "basic" | "header" | "query";
export type AuthType = StaticAuthType | "github_app" | "oauth2" | "aws_sigv4";

/** An `aws_sigv4` service: the role each nonce's STS session assumes. */
export interface AwsServiceConfig {
  role_arn: string;
  region: string;
  external_id?: string;
}

export interface ServiceAuth {
  type: AuthType;
  /** Header name (type "header") or query parameter name (type "query"). */
  name?: string;
  /** Optional value prefix for type "header", e.g. "token " — bearer and basic have fixed shapes. */
  prefix?: string;
  /** github_app: the App's id and the installation the tokens are minted for. */
  app_id?: string;
  installation_id?: string;
  /** oauth2: how access tokens are obtained. */
  grant?: "client_credentials" | "refresh_token";
  token_url?: string;
  client_id?: string;
  scope?: string;
  audience?: string;
  resource?: string;
  /** Type "aws_sigv4" only (the API shows it as the service's top-level `aws`). */
  aws?: AwsServiceConfig;
  /** Type "aws_sigv4" only: origin overrides per AWS signing name (`sts`, `s3`, …); the API's `endpoints`. */
  endpoints?: Record<string, string>;
}

/** Catalog: scope name → route patterns (`"GET /v1/customers/{id}"`). */
export type ScopeCatalog = Record<string, string[]>;

export interface ServiceRecord {
  name: string;
  template: string | null;
  /** Origin only: `https://api.stripe.com`. */
  upstream: string;
  auth: ServiceAuth;
  scopes: ScopeCatalog;
  insecureUpstream: boolean;
  /** Sealed credential (see core/crypto.ts); never leaves the process except as ciphertext in the store. */
  credential: Buffer | null;
  credentialFingerprint: string | null;
  credentialUpdatedAt: number | null;
  createdAt: number;
  updatedAt: number;
}

export type NonceStatus = "active" | "expired" | "revoked" | "exhausted";

export interface NonceRecord {
  id: string;
  /** `tokenKey(token)`: issuance ms (6 bytes) || SHA-256 of the token. The token itself is never stored. */
  tokenKey: Buffer;
  service: string;
  /** What was asked for: catalog names and/or raw route patterns. */
  scopes: string[];
  /** The route patterns those scopes resolved to at issuance. Frozen: later catalog edits never widen a nonce. */
  routes: string[];
  agent: string;
  task: string | null;
  maxUses: number | null;
  uses: number;
  /** Request constraints (see core/constraints.ts), already AND-merged with the issuer policy's. */
  constraints: Record<string, unknown> | null;
  /** Per-nonce rate limit, `"60/m"` (see core/rate.ts); null or absent for none. Read back always as a value. */
  rate?: string | null;
  metadata: Record<string, unknown> | null;
  /** Per-kind parameters of a minted credential (`{github: {repositories}}`, `{aws: {resources}}`); null or
   * absent for static services. See src/gateway/minted/types.ts CredentialParams. */
  credentialParams?: Record<string, unknown> | null;
  /** API key id that issued it. */
  issuedBy: string;
  createdAt: number;
  expiresAt: number;
  revokedAt: number | null;
  /** Delegation (migration 010): the nonce this one was delegated from; null or absent for a root. */
  parentId?: string | null;
  /** 0 for a root, the parent's + 1 for a delegated nonce (at most MAX_DELEGATION_DEPTH). */
  depth?: number;
  /** A tripwire: never meant to be used; any presentation at the gateway is `nonce.canary_tripped`. */
  canary?: boolean;
}

export interface IssuerPolicyRule {
  service: string;
  /** Catalog scope names (or `*` for every catalog scope of the service). */
  scopes: string[];
  /** Maximum TTL, as a duration string or seconds. */
  max_ttl?: string | number;
  max_uses?: number;
  /** Whether raw route scopes may be issued under this rule. */
  allow_routes?: boolean;
  /** Request constraints every nonce issued under this rule carries (AND-merged into the nonce's own). */
  constraints?: Record<string, unknown>;
  /** Loosest rate a nonce issued under this rule may carry (`"60/m"`); also its rate when the issuer gives none. */
  max_rate?: string;
  /** A human must approve each nonce issued under this rule (src/app/approvals.ts); `timeout` defaults to 15m. */
  approval?: { required: boolean; timeout?: string | number };
}

export interface IssuerPolicy {
  allow: IssuerPolicyRule[];
  /** Globs (`*` wildcard) the `agent` field must match; absent means any agent. */
  agents?: string[];
}

export interface ApiKeyRecord {
  id: string;
  name: string;
  role: Role;
  policy: IssuerPolicy | null;
  keyHash: Buffer;
  createdBy: string | null;
  createdAt: number;
  revokedAt: number | null;
}

/** An OIDC trust relationship (src/app/trust.ts): tokens of `issuer` for `audience` whose `sub` and claims match
 * the globs act with `role` and `policy`. */
export interface TrustRecord {
  name: string;
  issuer: string;
  audience: string;
  subject: string | null;
  claims: Record<string, string> | null;
  role: "issuer" | "auditor";
  policy: IssuerPolicy | null;
  jwksUri: string | null;
  insecureIssuer: boolean;
  createdAt: number;
  updatedAt: number;
}

export interface Actor {
  type: "api_key" | "oidc" | "nonce" | "system";
  id: string;
  name: string;
}

export type { AuditType } from "./audit-types.js";

import type { AuditType } from "./audit-types.js";

export interface AuditRequest {
  method: string;
  /** Path only; query values are never recorded. */
  path: string;
  status: number | null;
  duration_ms: number | null;
  bytes: number | null;
}

/** What a writer supplies; the store assigns `seq`, `prev_hash` and `hash`. */
export interface AuditDraft {
  id: string;
  time: number;
  type: AuditType;
  actor: Actor | null;
  agent: string | null;
  task: string | null;
  nonceId: string | null;
  service: string | null;
  scopes: string[] | null;
  reason: string | null;
  request: AuditRequest | null;
  sourceIp: string | null;
  /** Small structured extras (never a token, secret, key, query value or body). */
  data: Record<string, unknown> | null;
}

export interface AuditEvent extends AuditDraft {
  seq: number;
  prevHash: string;
  hash: string;
}

/**
 * A signed statement "the chain had `events` events ending at (`seq`, `hash`) at `time`", written by one
 * replica's audit signing key. `jws` is the compact JWS (EdDSA) of `{seq, hash, time, events}`; `publicKey` the
 * signer's public JWK (JSON) and `kid` its RFC 7638 thumbprint, so every replica can keep its own key.
 */
export interface AuditCheckpoint {
  seq: number;
  hash: string;
  time: number;
  events: number;
  kid: string;
  publicKey: string;
  jws: string;
}

export type ApprovalStatus = "pending" | "approved" | "denied" | "expired";

/**
 * A nonce request waiting for a human (DESIGN.md "Approvals"). `request` is the issuance plan decided by the
 * policy when it was asked (src/app/approvals.ts ApprovalPlan): never a token. The nonce is issued when the
 * requester first reads the approved request (`nonceId`, `deliveredAt`), with its TTL counted from `decidedAt`.
 */
export interface ApprovalRecord {
  id: string;
  status: ApprovalStatus;
  /** API key id of the requester. */
  requestedBy: string;
  service: string;
  agent: string;
  task: string | null;
  scopes: string[];
  request: Record<string, unknown>;
  createdAt: number;
  expiresAt: number;
  decidedAt: number | null;
  /** API key id of the approver, or null (expired). */
  decidedBy: string | null;
  comment: string | null;
  nonceId: string | null;
  deliveredAt: number | null;
}
