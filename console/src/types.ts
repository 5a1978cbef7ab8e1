/** The API's JSON shapes the console reads (docs/openapi.json is the contract). */

export type Role = "admin" | "issuer" | "auditor" | "approver";

export interface Policy {
  allow: {
    service: string;
    scopes: string[];
    max_ttl?: string | number;
    max_uses?: number;
    allow_routes?: boolean;
    max_rate?: string;
    approval?: { required: boolean; timeout?: string };
  }[];
  agents?: string[];
}

export interface Whoami {
  id: string;
  name: string;
  type: "api_key" | "oidc";
  role: Role;
  policy: Policy | null;
}

export interface AuditEvent {
  id: string;
  seq: number;
  time: string;
  type: string;
  actor: { type: string; id: string; name: string } | null;
  agent: string | null;
  task: string | null;
  nonce_id: string | null;
  service: string | null;
  scopes: string[] | null;
  reason: string | null;
  request: { method: string | null; path: string | null; status: number | null; duration_ms: number | null } | null;
  source_ip: string | null;
  data: Record<string, unknown> | null;
}

export interface NonceView {
  id: string;
  service: string;
  scopes: string[];
  agent: string;
  task: string | null;
  status: string;
  uses: number;
  max_uses: number | null;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
}

export interface Approval {
  id: string;
  status: string;
  service: string;
  agent: string;
  task: string | null;
  scopes: string[];
  ttl_s: number;
  requested_by: string;
  created_at: string;
  expires_at: string;
  decided_at: string | null;
  decided_by: string | null;
  comment: string | null;
  nonce_id: string | null;
}

export interface ApiKey {
  id: string;
  name: string;
  role: Role;
  policy: Policy | null;
  created_by: string | null;
  created_at: string;
  revoked_at: string | null;
}

export interface Trust {
  name: string;
  issuer: string;
  audience: string;
  subject: string | null;
  claims: Record<string, string> | null;
  role: Role;
  policy: Policy | null;
}

export interface Service {
  name: string;
  template: string | null;
  upstream: string;
  credential: { set: boolean; fingerprint: string | null; updated_at: string | null };
}

export interface VerifyResult {
  ok: boolean;
  events: number;
  first_bad_seq?: number;
  reason?: string;
  checkpoints: number;
  untrusted_checkpoints: number;
  from_seq: number;
}

export interface Checkpoint {
  seq: number;
  hash: string;
  time: string;
  events: number;
  kid: string;
  jws: string;
  trusted: boolean;
}
