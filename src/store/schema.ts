/** Row shapes as the databases hold them (kysely's view of the schema). JSON columns are text. */

export interface ServiceRow {
  name: string;
  template: string | null;
  upstream: string;
  auth: string;
  scopes: string;
  /** INTEGER 0/1 on SQLite, BOOLEAN on PostgreSQL. */
  insecure_upstream: number | boolean;
  credential: Buffer | null;
  credential_fingerprint: string | null;
  credential_updated_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface ApiKeyRow {
  id: string;
  name: string;
  role: string;
  policy: string | null;
  key_hash: Buffer;
  created_by: string | null;
  created_at: number;
  revoked_at: number | null;
}

export interface NonceRow {
  id: string;
  token_key: Buffer;
  service: string;
  scopes: string;
  routes: string;
  agent: string;
  task: string | null;
  max_uses: number | null;
  uses: number;
  constraints: string | null;
  metadata: string | null;
  rate: string | null;
  /** Migration 007: JSON, per-kind parameters of a minted credential. */
  credential_params: string | null;
  /** Migration 010: delegation lineage and the tripwire flag (0/1). */
  parent_id: string | null;
  depth: number;
  canary: number;
  /** Migration 011: the GCRA state (core/rate.ts RateTat); absent on rows built for an insert (null, 0). */
  rate_tat?: number | null;
  rate_tat_frac?: number;
  issued_by: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
}

/** The columns Store.getNonceStatus reads. */
export type NonceStateRow = Pick<NonceRow, "revoked_at" | "expires_at" | "uses" | "max_uses"> &
  Partial<Pick<NonceRow, "parent_id">>;

export interface AuditRow {
  seq: number;
  id: string;
  time: number;
  type: string;
  actor: string | null;
  /** Derived (not hashed): actor.id, for issuer read filters. */
  actor_id: string | null;
  agent: string | null;
  task: string | null;
  nonce_id: string | null;
  service: string | null;
  scopes: string | null;
  reason: string | null;
  request: string | null;
  source_ip: string | null;
  data: string | null;
  prev_hash: string;
  hash: string;
  /** Derived (not hashed): the issuing key of `nonce_id`, looked up at append time. */
  issued_by: string | null;
}

/** SQLite only (migration 005): the filterable columns of an audit_events row, indexed off the hot path. */
export type AuditIndexRow = Pick<
  AuditRow,
  "seq" | "time" | "type" | "actor_id" | "agent" | "task" | "nonce_id" | "service" | "issued_by"
>;

export interface AuditHeadRow {
  id: number;
  seq: number;
  hash: string;
}

export interface AuditCheckpointRow {
  seq: number;
  kid: string;
  hash: string;
  time: number;
  events: number;
  public_key: string;
  jws: string;
}

export interface Database {
  services: ServiceRow;
  api_keys: ApiKeyRow;
  nonces: NonceRow;
  audit_events: AuditRow;
  audit_head: AuditHeadRow;
  audit_index: AuditIndexRow;
  audit_checkpoints: AuditCheckpointRow;
  trust_relationships: TrustRow;
}

export interface TrustRow {
  name: string;
  issuer: string;
  audience: string;
  subject: string | null;
  claims: string | null;
  role: string;
  policy: string | null;
  jwks_uri: string | null;
  /** INTEGER 0/1 on SQLite, BOOLEAN on PostgreSQL. */
  insecure_issuer: number | boolean;
  created_at: number;
  updated_at: number;
}

export interface ApprovalRow {
  id: string;
  status: string;
  requested_by: string;
  service: string;
  agent: string;
  task: string | null;
  scopes: string;
  request: string;
  created_at: number;
  expires_at: number;
  decided_at: number | null;
  decided_by: string | null;
  comment: string | null;
  nonce_id: string | null;
  delivered_at: number | null;
}
