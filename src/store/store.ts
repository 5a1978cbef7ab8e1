import type {
  ApiKeyRecord,
  ApprovalRecord,
  ApprovalStatus,
  AuditCheckpoint,
  AuditDraft,
  AuditEvent,
  AuditType,
  NonceRecord,
  NonceStatus,
  ServiceRecord,
  TrustRecord,
} from "../core/types.js";

/**
 * The storage interfaces: one small interface per aggregate (nonces, audit events, audit checkpoints, services and
 * their credentials, API keys, trust relationships, approvals) plus the lifecycle, and `Store`, all of them
 * together. Two dialects implement `Store` (sqlite.ts, postgres.ts) and one conformance suite
 * (store.conformance.test.ts) runs against both; code that uses a store names the narrowest part it needs
 * (the gateway: nonces, audit and services). Implementations never log row contents.
 *
 * Expected outcomes are values (`ConsumeResult`); I/O failures throw (callers fail closed).
 */

export interface Page<T> {
  items: T[];
  /** Opaque cursor for the next page, or null when this is the last page. */
  nextCursor: string | null;
}

export interface PageRequest {
  limit: number;
  cursor?: string | undefined;
}

export interface NonceFilter {
  agent?: string | undefined;
  task?: string | undefined;
  service?: string | undefined;
  status?: NonceStatus | undefined;
  issuedBy?: string | undefined;
}

export interface RevokeFilter {
  task?: string | undefined;
  agent?: string | undefined;
  service?: string | undefined;
  /** Restrict to nonces issued by this key (issuers may only revoke their own). */
  issuedBy?: string | undefined;
}

export interface AuditFilter {
  agent?: string | undefined;
  task?: string | undefined;
  nonceId?: string | undefined;
  service?: string | undefined;
  type?: AuditType | undefined;
  /** Inclusive lower bound, ms. */
  since?: number | undefined;
  /** Exclusive upper bound, ms. */
  until?: number | undefined;
  /** Issuer read access: events of nonces issued by this key, and events this key performed (actor.id). */
  issuedBy?: string | undefined;
}

export interface ApprovalFilter {
  status?: ApprovalStatus | undefined;
  /** Only requests of this API key. */
  requestedBy?: string | undefined;
  /** Only pending requests whose deadline is at or before this time (the expiry sweep). */
  pendingDueBy?: number | undefined;
}

/** A decision: `approved`/`denied` only before the deadline, `expired` only after it. */
export interface ApprovalDecision {
  status: "approved" | "denied" | "expired";
  by: string | null;
  comment: string | null;
  now: number;
}

export type RejectReason = "nonce_invalid" | "nonce_expired" | "nonce_revoked" | "nonce_exhausted";

/** Every reason a consume refuses: the nonce's status, or its rate limit (the nonce stays usable later). */
export type ConsumeRefusal = RejectReason | "rate_limited";

export type ConsumeResult =
  | { ok: true; nonce: NonceRecord }
  | { ok: false; reason: RejectReason; nonce: NonceRecord | null }
  /** Not terminal: no use counted, the rate state unchanged; `retryAfterMs` until a request would be admitted. */
  | { ok: false; reason: "rate_limited"; retryAfterMs: number; nonce: NonceRecord };

/** Opening, migrating, probing and closing the database. */
export interface StoreLifecycle {
  readonly dialect: "sqlite" | "postgres";

  /** Applies pending migrations. Idempotent; safe with several processes starting at once. */
  migrate(): Promise<void>;
  close(): Promise<void>;
  /** Cheap liveness probe (`SELECT 1`). */
  ping(): Promise<void>;
  /** Versions of the migrations this build knows that the database has not applied (readiness: empty = current).
   * A database never migrated has them all pending. */
  pendingMigrations(): Promise<number[]>;
}

/** Services and their sealed credentials. */
export interface ServiceStore {
  /** Insert or replace the service's configuration; keeps its credential. Returns true when it was created.
   * The event's type is set to `service.created` / `service.updated` by what actually happened. */
  putService(
    s: Omit<ServiceRecord, "credential" | "credentialFingerprint" | "credentialUpdatedAt">,
    audit: AuditDraft,
  ): Promise<boolean>;
  getService(name: string): Promise<ServiceRecord | undefined>;
  listServices(): Promise<ServiceRecord[]>;
  /** Deletes the service and revokes its active nonces, in one transaction. False (and no event) if missing. */
  deleteService(name: string, now: number, audit: AuditDraft): Promise<boolean>;
  /** With `expectedFingerprint`, a compare-and-set: only replaces the credential whose fingerprint is still that
   * (the gateway storing a rotated OAuth refresh token must never overwrite a credential an admin set meanwhile). */
  setCredential(
    name: string,
    sealed: Buffer,
    fingerprint: string,
    now: number,
    audit: AuditDraft,
    expectedFingerprint?: string,
  ): Promise<boolean>;
  /** Master-key rotation: replace every sealed credential via `rewrap`, in one transaction. Returns how many
   * changed (credentials already under the current key version are left as they are). */
  rewrapCredentials(rewrap: (service: string, sealed: Buffer) => Buffer): Promise<number>;
}

/** API keys (stored hashed) and their issuer policies. */
export interface ApiKeyStore {
  insertApiKey(k: ApiKeyRecord, audit: AuditDraft | null): Promise<void>;
  getApiKeyByHash(hash: Buffer): Promise<ApiKeyRecord | undefined>;
  getApiKey(id: string): Promise<ApiKeyRecord | undefined>;
  listApiKeys(): Promise<ApiKeyRecord[]>;
  countApiKeys(): Promise<number>;
  revokeApiKey(id: string, now: number, audit: AuditDraft): Promise<boolean>;
}

/** OIDC trust relationships (workload identity). */
export interface TrustStore {
  /** Insert or replace; true when created. The event's type is set to `trust.created` / `trust.updated` by what
   * actually happened, in the same transaction. */
  putTrust(t: TrustRecord, audit: AuditDraft): Promise<boolean>;
  getTrust(name: string): Promise<TrustRecord | undefined>;
  /** Every trust relationship, by name. */
  listTrusts(): Promise<TrustRecord[]>;
  /** False (and no event) if missing. */
  deleteTrust(name: string, audit: AuditDraft): Promise<boolean>;
}

/** Nonces: issuance, the gateway's lookups and atomic use count, revocation, expiry. */
export interface NonceStore {
  /** Inserts the nonce and its `nonce.issued` event in one transaction: no nonce without its audit row. */
  insertNonce(n: NonceRecord, audit: AuditDraft): Promise<void>;
  getNonce(id: string): Promise<NonceRecord | undefined>;
  /** Lookup by token key (core/tokens.ts `tokenKey`). The gateway reads the immutable part — service, routes —
   * before consuming, so a scope-denied request never counts a use. Never use its state fields for decisions:
   * consumeNonce re-checks. */
  getNonceByKey(tokenKey: Buffer): Promise<NonceRecord | undefined>;
  /**
   * The status at `now` of the nonce with this token key, or undefined when there is none: one indexed read of
   * four columns, no transaction. The gateway reads it before answering a request it is about to deny (scope,
   * concurrency, rate, constraints), so a dead nonce gets its own 401 (SECURITY.md rule 14). Never grounds for
   * admitting a request: consumeNonce re-checks atomically.
   */
  getNonceStatus(tokenKey: Buffer, now: number): Promise<NonceStatus | undefined>;
  listNonces(filter: NonceFilter, page: PageRequest, now: number): Promise<Page<NonceRecord>>;
  /**
   * The gateway's atomic check-and-count: looks the nonce up by token key and, only if it is active at `now`
   * (not revoked, not expired, uses < max_uses, lineage alive) and, when it has a rate, the rate admits a
   * request at `now` (core/rate.ts takeRate), increments `uses` and moves the rate state on. The checks and the
   * writes are one transaction on the locked row, so concurrent requests can never exceed max_uses or the rate,
   * on any number of replicas. A dead nonce is refused for being dead before its rate is looked at.
   * `onOk(nonce)` builds the `nonce.used` event and `onReject(reason, nonce)` the `nonce.rejected` event; the
   * event is appended in the same transaction as the increment (fail closed: if it cannot be written, the use
   * is rolled back and the call throws).
   */
  consumeNonce(
    tokenKey: Buffer,
    now: number,
    onOk: (n: NonceRecord) => AuditDraft,
    onReject: (reason: ConsumeRefusal, n: NonceRecord | null) => AuditDraft | null,
  ): Promise<ConsumeResult>;
  /** Revokes one nonce if not already revoked. Returns the record as it is after the call, or undefined. */
  revokeNonce(id: string, now: number, audit: (n: NonceRecord) => AuditDraft): Promise<NonceRecord | undefined>;
  /** Revokes every unrevoked, unexpired nonce matching the filter (at least one field set); one event each. */
  revokeNonces(filter: RevokeFilter, now: number, audit: (n: NonceRecord) => AuditDraft): Promise<number>;
  /** Deletes nonces that expired before `before`. Returns how many. */
  deleteExpiredNonces(before: number, limit: number): Promise<number>;
}

/** Human approvals of issuance requests. */
export interface ApprovalStore {
  insertApproval(a: ApprovalRecord, audit: AuditDraft): Promise<void>;
  getApproval(id: string): Promise<ApprovalRecord | undefined>;
  /** Newest first. */
  listApprovals(filter: ApprovalFilter, page: PageRequest): Promise<Page<ApprovalRecord>>;
  /**
   * Decides a pending request in one conditional update (first decision wins, on any number of replicas) and
   * writes the event `audit` builds in the same transaction. `ok: false` (and no event) when it was no longer
   * pending or the deadline rule refused; `approval` is then the record as it is (undefined when missing).
   */
  decideApproval(
    id: string,
    d: ApprovalDecision,
    audit: (a: ApprovalRecord) => AuditDraft,
  ): Promise<{ ok: boolean; approval: ApprovalRecord | undefined }>;
  /**
   * Hands out an approved request's nonce exactly once: marks it delivered and inserts the nonce with its
   * `nonce.issued` event, in one transaction. False (nothing inserted) when it was not approved or already
   * delivered.
   */
  deliverApproval(id: string, nonce: NonceRecord, now: number, audit: AuditDraft): Promise<boolean>;
}

/** The hash-chained audit log. */
export interface AuditStore {
  /** Appends events to the hash chain in one transaction (seq, prev_hash, hash assigned under a lock). */
  appendAudit(drafts: AuditDraft[]): Promise<AuditEvent[]>;
  listAudit(filter: AuditFilter, page: PageRequest): Promise<Page<AuditEvent>>;
  /** Events in seq order from `afterSeq` (exclusive), for verification and export. */
  scanAudit(afterSeq: number, limit: number): Promise<AuditEvent[]>;
  auditHead(): Promise<{ seq: number; hash: string }>;
  /**
   * Calls `listener` with the events of every audit write of THIS process, after its transaction committed
   * (never for a rolled-back write). PostgreSQL writers on different connections may report out of seq order,
   * and other replicas' writes are not reported: consumers needing order or completeness read the store
   * (src/app/audit-feed.ts). Listeners must not throw or block. Returns an unsubscribe function.
   */
  onAuditCommitted(listener: (events: readonly AuditEvent[]) => void): () => void;
}

/** Signed audit checkpoints, and retention (which prunes events and checkpoints together). */
export interface AuditCheckpointStore {
  insertCheckpoint(c: AuditCheckpoint): Promise<void>;
  /** Checkpoints with seq > afterSeq, in (seq, kid) order. */
  listCheckpoints(afterSeq: number, limit: number): Promise<AuditCheckpoint[]>;
  /** The newest checkpoint with seq <= maxSeq signed by one of `kids` (any key when omitted). */
  latestCheckpoint(opts: { maxSeq?: number; kids?: readonly string[] }): Promise<AuditCheckpoint | undefined>;
  /**
   * Retention: deletes up to `limit` of the oldest events with seq <= throughSeq, and the checkpoints below
   * throughSeq (the checkpoint AT throughSeq stays: the retained chain is verified from it). Returns how many
   * events were deleted; call until it returns less than `limit`.
   */
  pruneAudit(throughSeq: number, limit: number): Promise<number>;
}

/** Every aggregate: what a dialect implements and the composition root holds. */
export interface Store
  extends StoreLifecycle,
    NonceStore,
    AuditStore,
    AuditCheckpointStore,
    ServiceStore,
    ApiKeyStore,
    TrustStore,
    ApprovalStore {}

/** What the gateway (the data plane) reads and writes: nonces, audit events, services and their credentials. */
export type GatewayStore = NonceStore & AuditStore & ServiceStore;
