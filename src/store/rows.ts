import { type JsonTexts, linkWithTexts } from "../core/audit-chain.js";
import { AppError } from "../core/errors.js";
import { isId } from "../core/ids.js";
import type {
  ApiKeyRecord,
  AuditCheckpoint,
  AuditDraft,
  AuditEvent,
  AuditType,
  NonceRecord,
  Role,
  ServiceRecord,
} from "../core/types.js";
import type { ApiKeyRow, AuditCheckpointRow, AuditRow, NonceRow, NonceStateRow, ServiceRow } from "./schema.js";

/** Mapping between domain records and rows, shared by both dialects. Pure. */

function json(v: unknown): string | null {
  return v === null || v === undefined ? null : JSON.stringify(v);
}

function parse<T>(v: string | null): T | null {
  return v === null ? null : (JSON.parse(v) as T);
}

/** Rows come back as Buffer (better-sqlite3, pg) but be strict about it: a digest compare needs a Buffer. */
function buf(v: Buffer | Uint8Array): Buffer {
  return Buffer.isBuffer(v) ? v : Buffer.from(v);
}

export function serviceToRow(
  s: Omit<ServiceRecord, "credential" | "credentialFingerprint" | "credentialUpdatedAt">,
  dialect: "sqlite" | "postgres",
): Omit<ServiceRow, "credential" | "credential_fingerprint" | "credential_updated_at"> {
  return {
    name: s.name,
    template: s.template ?? null,
    upstream: s.upstream,
    auth: JSON.stringify(s.auth),
    scopes: JSON.stringify(s.scopes),
    insecure_upstream: dialect === "sqlite" ? (s.insecureUpstream ? 1 : 0) : s.insecureUpstream,
    created_at: s.createdAt,
    updated_at: s.updatedAt,
  };
}

export function serviceFromRow(r: ServiceRow): ServiceRecord {
  return {
    name: r.name,
    template: r.template,
    upstream: r.upstream,
    auth: JSON.parse(r.auth),
    scopes: JSON.parse(r.scopes),
    insecureUpstream: r.insecure_upstream === true || r.insecure_upstream === 1,
    credential: r.credential === null ? null : buf(r.credential),
    credentialFingerprint: r.credential_fingerprint,
    credentialUpdatedAt: r.credential_updated_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export function apiKeyToRow(k: ApiKeyRecord): ApiKeyRow {
  return {
    id: k.id,
    name: k.name,
    role: k.role,
    policy: json(k.policy),
    key_hash: k.keyHash,
    created_by: k.createdBy ?? null,
    created_at: k.createdAt,
    revoked_at: k.revokedAt ?? null,
  };
}

export function apiKeyFromRow(r: ApiKeyRow): ApiKeyRecord {
  return {
    id: r.id,
    name: r.name,
    role: r.role as Role,
    policy: parse(r.policy),
    keyHash: buf(r.key_hash),
    createdBy: r.created_by,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
  };
}

export function nonceToRow(n: NonceRecord): NonceRow {
  return {
    id: n.id,
    token_key: n.tokenKey,
    service: n.service,
    scopes: JSON.stringify(n.scopes),
    routes: JSON.stringify(n.routes),
    agent: n.agent,
    task: n.task ?? null,
    max_uses: n.maxUses ?? null,
    uses: n.uses,
    constraints: json(n.constraints),
    metadata: json(n.metadata),
    rate: n.rate ?? null,
    credential_params: json(n.credentialParams ?? null),
    parent_id: n.parentId ?? null,
    depth: n.depth ?? 0,
    canary: n.canary ? 1 : 0,
    issued_by: n.issuedBy,
    created_at: n.createdAt,
    expires_at: n.expiresAt,
    revoked_at: n.revokedAt ?? null,
  };
}

export function nonceFromRow(r: NonceRow): NonceRecord {
  return {
    id: r.id,
    tokenKey: buf(r.token_key),
    service: r.service,
    scopes: JSON.parse(r.scopes),
    routes: JSON.parse(r.routes),
    agent: r.agent,
    task: r.task,
    maxUses: r.max_uses,
    uses: r.uses,
    constraints: parse(r.constraints),
    metadata: parse(r.metadata),
    rate: r.rate ?? null,
    issuedBy: r.issued_by,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
    // Absent rather than null for static services, so records read back equal the ones written.
    ...(r.credential_params ? { credentialParams: parse<Record<string, unknown>>(r.credential_params) } : {}),
    // Likewise absent for a plain root nonce.
    ...(r.parent_id ? { parentId: r.parent_id } : {}),
    ...(r.depth ? { depth: Number(r.depth) } : {}),
    ...(r.canary ? { canary: true } : {}),
  };
}

/** The mutable columns a status is decided on (Store.getNonceStatus). */
export function stateFromRow(r: NonceStateRow): Pick<NonceRecord, "revokedAt" | "expiresAt" | "uses" | "maxUses"> {
  return { revokedAt: r.revoked_at, expiresAt: r.expires_at, uses: r.uses, maxUses: r.max_uses };
}

/** An audit_events row as inserted; `issued_by` is derived in SQL from `nonce_id`, so it is left out here. */
export type AuditInsertRow = Omit<AuditRow, "issued_by">;

/**
 * Links drafts onto the chain head and builds their rows, for both dialects. What is hashed is exactly what is read
 * back: each JSON-valued field is serialised once, canonically (core/audit-chain.ts `linkWithTexts`), and that text
 * is both hashed and stored.
 */
export function linkDrafts(
  drafts: readonly AuditDraft[],
  head: { seq: number; hash: string },
): { events: AuditEvent[]; rows: AuditInsertRow[] } {
  const { events, texts } = linkWithTexts(drafts, head);
  const rows = events.map((e, i): AuditInsertRow => {
    const t = texts[i] as JsonTexts;
    return {
      seq: e.seq,
      id: e.id,
      time: e.time,
      type: e.type,
      actor: nullText(t.actor),
      actor_id: e.actor?.id ?? null,
      agent: e.agent,
      task: e.task,
      nonce_id: e.nonceId,
      service: e.service,
      scopes: nullText(t.scopes),
      reason: e.reason,
      request: nullText(t.request),
      source_ip: e.sourceIp,
      data: nullText(t.data),
      prev_hash: e.prevHash,
      hash: e.hash,
    };
  });
  return { events, rows };
}

/** A JSON-valued column is SQL NULL, not the text "null", when the field is null. */
const nullText = (text: string): string | null => (text === "null" ? null : text);

export function eventFromRow(r: Omit<AuditRow, "issued_by" | "actor_id">): AuditEvent {
  return {
    id: r.id,
    seq: r.seq,
    time: r.time,
    type: r.type as AuditType,
    actor: parse(r.actor),
    agent: r.agent,
    task: r.task,
    nonceId: r.nonce_id,
    service: r.service,
    scopes: parse(r.scopes),
    reason: r.reason,
    request: parse(r.request),
    sourceIp: r.source_ip,
    data: parse(r.data),
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

export function checkpointToRow(c: AuditCheckpoint): AuditCheckpointRow {
  return {
    seq: c.seq,
    kid: c.kid,
    hash: c.hash,
    time: c.time,
    events: c.events,
    public_key: c.publicKey,
    jws: c.jws,
  };
}

export function checkpointFromRow(r: AuditCheckpointRow): AuditCheckpoint {
  return {
    seq: Number(r.seq),
    kid: r.kid,
    hash: r.hash,
    time: Number(r.time),
    events: Number(r.events),
    publicKey: r.public_key,
    jws: r.jws,
  };
}

// cursors ---------------------------------------------------------------------------------------------------

function encodeCursor(key: string): string {
  return Buffer.from(key, "utf8").toString("base64url");
}

function decodeCursor(cursor: string, valid: (key: string) => boolean): string {
  const key = Buffer.from(cursor, "base64url").toString("utf8");
  // Node's base64url decoder skips junk; re-encoding catches any cursor we did not produce.
  if (!valid(key) || encodeCursor(key) !== cursor) throw new AppError("invalid_request", "invalid cursor");
  return key;
}

export const nonceCursor = {
  encode: (id: string) => encodeCursor(id),
  decode: (c: string) => decodeCursor(c, (k) => isId(k, "nce")),
};

export const auditCursor = {
  encode: (seq: number) => encodeCursor(String(seq)),
  decode: (c: string) => Number(decodeCursor(c, (k) => /^(0|[1-9][0-9]{0,15})$/.test(k))),
};

export function pageOf<R, T>(rows: R[], limit: number, map: (r: R) => T, key: (r: R) => string) {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  const last = kept[kept.length - 1];
  return { items: kept.map(map), nextCursor: more && last !== undefined ? key(last) : null };
}

/** Every column of an audit_events row, in one fixed order (PostgreSQL bulk inserts bind one array per column). */
export const AUDIT_ROW_COLUMNS = [
  "seq",
  "id",
  "time",
  "type",
  "actor",
  "actor_id",
  "agent",
  "task",
  "nonce_id",
  "service",
  "scopes",
  "reason",
  "request",
  "source_ip",
  "data",
  "prev_hash",
  "hash",
] as const;

/** Every column of a trust_relationships row, in the order both dialects' upserts bind them (trust.ts). */
export const TRUST_COLUMNS = [
  "name",
  "issuer",
  "audience",
  "subject",
  "claims",
  "role",
  "policy",
  "jwks_uri",
  "insecure_issuer",
  "created_at",
  "updated_at",
] as const;
