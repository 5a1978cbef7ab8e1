import { GENESIS_HASH } from "../../core/audit-chain.js";
import type { Migration } from "./index.js";

/**
 * The initial schema. Times are integer milliseconds; tokens and API keys are stored only as SHA-256 digests;
 * credentials only sealed. JSON columns are text on both dialects so the audit chain re-hashes byte-for-byte
 * what was hashed at append time (jsonb would be fine for that too, but text keeps one mapping for both).
 * Ids are compared bytewise (COLLATE "C" on PostgreSQL, SQLite's default) so time-sortable ids page in
 * creation order whatever the database locale. Nonces have no foreign key to services: deleting a service revokes its nonces but keeps them for audit.
 */
const HEAD_SEED = `INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '${GENESIS_HASH}')`;

const INDEXES = [
  "CREATE INDEX nonces_agent_idx ON nonces (agent, id)",
  "CREATE INDEX nonces_task_idx ON nonces (task, id)",
  "CREATE INDEX nonces_service_idx ON nonces (service, id)",
  "CREATE INDEX nonces_issued_by_idx ON nonces (issued_by, id)",
  "CREATE INDEX nonces_expires_at_idx ON nonces (expires_at)",
  "CREATE INDEX audit_nonce_idx ON audit_events (nonce_id, seq)",
  "CREATE INDEX audit_agent_idx ON audit_events (agent, seq)",
  "CREATE INDEX audit_task_idx ON audit_events (task, seq)",
  "CREATE INDEX audit_service_idx ON audit_events (service, seq)",
  "CREATE INDEX audit_type_idx ON audit_events (type, seq)",
  "CREATE INDEX audit_time_idx ON audit_events (time)",
  "CREATE INDEX audit_issued_by_idx ON audit_events (issued_by, seq)",
  "CREATE INDEX audit_actor_idx ON audit_events (actor_id, seq)",
];

export const initial: Migration = {
  version: 1,
  name: "initial",
  sqlite: [
    `CREATE TABLE services (
      name TEXT PRIMARY KEY,
      template TEXT,
      upstream TEXT NOT NULL,
      auth TEXT NOT NULL,
      scopes TEXT NOT NULL,
      insecure_upstream INTEGER NOT NULL,
      credential BLOB,
      credential_fingerprint TEXT,
      credential_updated_at INTEGER,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL
    ) STRICT`,
    `CREATE TABLE api_keys (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      role TEXT NOT NULL CHECK (role IN ('admin', 'issuer', 'auditor')),
      policy TEXT,
      key_hash BLOB NOT NULL UNIQUE CHECK (length(key_hash) = 32),
      created_by TEXT,
      created_at INTEGER NOT NULL,
      revoked_at INTEGER
    ) STRICT`,
    `CREATE TABLE nonces (
      id TEXT PRIMARY KEY,
      token_hash BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
      service TEXT NOT NULL,
      scopes TEXT NOT NULL,
      routes TEXT NOT NULL,
      agent TEXT NOT NULL,
      task TEXT,
      max_uses INTEGER,
      uses INTEGER NOT NULL DEFAULT 0,
      constraints TEXT,
      metadata TEXT,
      issued_by TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL,
      revoked_at INTEGER
    ) STRICT`,
    `CREATE TABLE audit_events (
      seq INTEGER PRIMARY KEY,
      id TEXT NOT NULL UNIQUE,
      time INTEGER NOT NULL,
      type TEXT NOT NULL,
      actor TEXT,
      actor_id TEXT,
      agent TEXT,
      task TEXT,
      nonce_id TEXT,
      service TEXT,
      scopes TEXT,
      reason TEXT,
      request TEXT,
      source_ip TEXT,
      data TEXT,
      prev_hash TEXT NOT NULL,
      hash TEXT NOT NULL,
      issued_by TEXT
    ) STRICT`,
    `CREATE TABLE audit_head (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      seq INTEGER NOT NULL,
      hash TEXT NOT NULL
    ) STRICT`,
    HEAD_SEED,
    ...INDEXES,
  ],
  postgres: [
    `CREATE TABLE services (
      name TEXT PRIMARY KEY,
      template TEXT,
      upstream TEXT NOT NULL,
      auth TEXT NOT NULL,
      scopes TEXT NOT NULL,
      insecure_upstream BOOLEAN NOT NULL,
      credential BYTEA,
      credential_fingerprint TEXT,
      credential_updated_at BIGINT,
      created_at BIGINT NOT NULL,
      updated_at BIGINT NOT NULL
    )`,
    `CREATE TABLE api_keys (
      id TEXT COLLATE "C" PRIMARY KEY,
      name TEXT NOT NULL,
      role TEXT NOT NULL CHECK (role IN ('admin', 'issuer', 'auditor')),
      policy TEXT,
      key_hash BYTEA NOT NULL UNIQUE CHECK (length(key_hash) = 32),
      created_by TEXT,
      created_at BIGINT NOT NULL,
      revoked_at BIGINT
    )`,
    `CREATE TABLE nonces (
      id TEXT COLLATE "C" PRIMARY KEY,
      token_hash BYTEA NOT NULL UNIQUE CHECK (length(token_hash) = 32),
      service TEXT NOT NULL,
      scopes TEXT NOT NULL,
      routes TEXT NOT NULL,
      agent TEXT NOT NULL,
      task TEXT,
      max_uses INTEGER,
      uses INTEGER NOT NULL DEFAULT 0,
      constraints TEXT,
      metadata TEXT,
      issued_by TEXT NOT NULL,
      created_at BIGINT NOT NULL,
      expires_at BIGINT NOT NULL,
      revoked_at BIGINT
    )`,
    `CREATE TABLE audit_events (
      seq BIGINT PRIMARY KEY,
      id TEXT NOT NULL UNIQUE,
      "time" BIGINT NOT NULL,
      "type" TEXT NOT NULL,
      actor TEXT,
      actor_id TEXT,
      agent TEXT,
      task TEXT,
      nonce_id TEXT,
      service TEXT,
      scopes TEXT,
      reason TEXT,
      request TEXT,
      source_ip TEXT,
      data TEXT,
      prev_hash TEXT NOT NULL,
      hash TEXT NOT NULL,
      issued_by TEXT
    )`,
    `CREATE TABLE audit_head (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      seq BIGINT NOT NULL,
      hash TEXT NOT NULL
    )`,
    HEAD_SEED,
    ...INDEXES,
  ],
};
