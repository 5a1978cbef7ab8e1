import type { ServiceRecord } from "../../core/types.js";

/**
 * The dynamic-credential framework (DESIGN.md "Credential kinds beyond a static key", SECURITY.md rule 16).
 *
 * A service whose `auth.type` is a dynamic kind holds a sealed ROOT credential (an App private key, an OAuth
 * client secret + refresh token, AWS access keys). The gateway never injects the root: per request it asks the
 * kind's `CredentialMinter` for a short-lived credential, minted from the root on first use and cached in memory
 * only (`MintedCredentials`, minted/cache.ts), keyed by nonce id (`sharing: "nonce"`) or by service name
 * (`sharing: "service"`, OAuth access tokens). A per-nonce credential never outlives its nonce: it is destroyed
 * (`destroy`) when the nonce is revoked, exhausted or expires, and audited `credential.minted` /
 * `credential.destroyed` (service, nonce id, fingerprint, expiry — never the value). Its raw values are needles
 * for the response scrubber like a static secret.
 *
 * Flow inside the gateway (pipeline/authorise.ts, inject.ts):
 *   scope check → `authorize()` (before consume: a refusal is 403 scope_denied, audited, no use counted)
 *   → consume → `MintedCredentials.get()` (cache hit, or decrypt root → `mint()` → audit `credential.minted`)
 *   → copy `headers` into the upstream request → `sign()` if the kind signs per request → forward, scrubbing
 *   `needles` → on an upstream 401, `MintedCredentials.invalidate()` once for `retryOn401` kinds.
 */

export type DynamicAuthType = "github_app" | "oauth2" | "aws_sigv4";

/**
 * Per-nonce parameters of a minted credential, given at issuance and stored with the nonce (migration 007,
 * column `nonces.credential_params`, `NonceRecord.credentialParams`). Each kind reads only its own key.
 */
export interface CredentialParams {
  /** github_app: the repositories (`owner/repo`) the installation token is narrowed to. Required for that kind. */
  github?: { repositories: string[] };
  /** aws_sigv4: resource ARNs the session policy is narrowed to (owned by src/gateway/aws/). */
  aws?: { resources: string[] };
}

/** The immutable facts of the nonce a credential is minted for (from the gateway's nonce cache). */
export interface MintNonce {
  id: string;
  service: string;
  agent: string;
  task: string | null;
  /** Scope names as issued (catalog names and/or raw routes). */
  scopes: readonly string[];
  /** Route patterns the scopes resolved to at issuance. */
  routes: readonly string[];
  expiresAt: number;
  params: CredentialParams | null;
}

export interface MintInput {
  nonce: MintNonce;
  service: ServiceRecord;
  /** The opened root credential (UTF-8 JSON for dynamic kinds). Zeroed by the caller as soon as mint() settles:
   * copy what you need into your own Buffers, never keep a reference. */
  rootSecret: Buffer;
  now: number;
}

export interface MintedCredential {
  /** Set on every upstream request made with this credential (replacing any same-named header). */
  headers: Readonly<Record<string, string>>;
  /** Raw secret values (the token, the session secret …). The framework expands them into scrub needles
   * (scrub.ts buildNeedles) and zeroes them on destroy. Never logged, returned or audited. */
  secrets: Buffer[];
  /** When the credential stops working upstream (ms). The cache re-mints before this (minus a margin). */
  expiresAt: number;
  /** Safe to audit and log: a keyed hash of the value (core/crypto.ts fingerprint), never the value. */
  fingerprint: string;
  /** Set when minting rotated the ROOT credential (an OAuth refresh token, re-sealed and stored before this
   * credential is returned): the new root's fingerprint, so the cache does not take the change for an admin's. */
  rootFingerprint?: string;
  /** Kind-private state for sign()/destroy() (e.g. session keys). Never logged or serialised. */
  state?: unknown;
}

/** An upstream request about to be forwarded; `sign` may add headers or rewrite the query. */
export interface OutboundRequest {
  method: string;
  /** Canonical path (canonical-path.ts), exactly what is forwarded. */
  path: string;
  /** Query string without `?`. */
  query: string;
  headers: Record<string, string>;
  /** A buffered body when the gateway read it (constraints), else null (streamed or empty). */
  body: Buffer | null;
}

export interface Refusal {
  /** `nonce.rejected` reason and gateway code. */
  code: "scope_denied" | "nonce_invalid" | "bad_request";
  message: string;
  /** Small, secret-free extras for the audit event (e.g. `{repository: "owner/repo"}`). */
  data?: Record<string, unknown>;
}

export interface CredentialMinter {
  readonly type: DynamicAuthType;
  /** "nonce": one credential per nonce, destroyed when the nonce ends. "service": one shared per service. */
  readonly sharing: "nonce" | "service";
  /** After an upstream 401 the cached credential is dropped and re-minted once (OAuth), not for per-nonce kinds. */
  readonly retryOn401: boolean;
  /** Before consume: refuse what the minted credential must never be used for (e.g. another repository). */
  authorize?(nonce: MintNonce, service: ServiceRecord, req: OutboundRequest): Refusal | null;
  /** Mints from the root. Throws `CredentialUnavailable` when the issuer refuses (never retried in a loop). */
  mint(input: MintInput): Promise<MintedCredential>;
  /** Per-request signing (aws_sigv4), after `headers` were copied in. */
  sign?(cred: MintedCredential, req: OutboundRequest, service: ServiceRecord): void | Promise<void>;
  /** Revokes upstream where the issuer supports it (GitHub DELETE /installation/token). Best effort: a failure
   * is logged by code and audited; the cache drops the credential either way. */
  destroy?(cred: MintedCredential, service: ServiceRecord): Promise<void>;
}

/** The issuer refused or could not be reached: the agent gets 502 `credential_unavailable`, audited. */
export class CredentialUnavailable extends Error {
  override readonly name = "CredentialUnavailable";
  /** `reason` is a fixed, secret-free word for audit (`invalid_grant`, `issuer_error`, `unreachable` …). */
  constructor(readonly reason: string) {
    super(`the credential issuer refused or failed (${reason})`);
  }
}
