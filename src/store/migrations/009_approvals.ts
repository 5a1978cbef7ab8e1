import type { Migration } from "./index.js";

/**
 * Human approvals (DESIGN.md "Approvals"): one row per nonce request that waits for a decision, and the new
 * `approver` role. SQLite cannot alter a CHECK constraint, so api_keys is rebuilt (same columns, same data);
 * PostgreSQL swaps the constraint. `request` is JSON (the issuance plan), never a token: the nonce is created
 * when the requester collects it (`nonce_id`, `delivered_at`).
 */
const ROLES = "'admin', 'issuer', 'auditor', 'approver'";

export const approvals: Migration = {
  version: 9,
  name: "approvals",
  sqlite: [
    `CREATE TABLE api_keys_009 (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      role TEXT NOT NULL CHECK (role IN (${ROLES})),
      policy TEXT,
      key_hash BLOB NOT NULL UNIQUE CHECK (length(key_hash) = 32),
      created_by TEXT,
      created_at INTEGER NOT NULL,
      revoked_at INTEGER
    ) STRICT`,
    "INSERT INTO api_keys_009 SELECT id, name, role, policy, key_hash, created_by, created_at, revoked_at FROM api_keys",
    "DROP TABLE api_keys",
    "ALTER TABLE api_keys_009 RENAME TO api_keys",
    `CREATE TABLE approvals (
      id TEXT PRIMARY KEY,
      status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'expired')),
      requested_by TEXT NOT NULL,
      service TEXT NOT NULL,
      agent TEXT NOT NULL,
      task TEXT,
      scopes TEXT NOT NULL,
      request TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL,
      decided_at INTEGER,
      decided_by TEXT,
      comment TEXT,
      nonce_id TEXT,
      delivered_at INTEGER
    ) STRICT`,
    "CREATE INDEX approvals_status_expires ON approvals (status, expires_at)",
  ],
  postgres: [
    "ALTER TABLE api_keys DROP CONSTRAINT IF EXISTS api_keys_role_check",
    `ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check CHECK (role IN (${ROLES}))`,
    `CREATE TABLE approvals (
      id TEXT COLLATE "C" PRIMARY KEY,
      status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'expired')),
      requested_by TEXT NOT NULL,
      service TEXT NOT NULL,
      agent TEXT NOT NULL,
      task TEXT,
      scopes TEXT NOT NULL,
      request TEXT NOT NULL,
      created_at BIGINT NOT NULL,
      expires_at BIGINT NOT NULL,
      decided_at BIGINT,
      decided_by TEXT,
      comment TEXT,
      nonce_id TEXT,
      delivered_at BIGINT
    )`,
    "CREATE INDEX approvals_status_expires ON approvals (status, expires_at)",
  ],
};
