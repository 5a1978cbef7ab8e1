import type { Migration } from "./index.js";

/**
 * Nonces are looked up by `token_key` (core/tokens.ts `tokenKey`: 6-byte issuance ms || SHA-256 of the token)
 * instead of `token_hash` (SHA-256 alone). A unique index on a random digest takes every issuance to a random
 * leaf: at 10 M stored nonces that leaf is read from disk and most of each commit's WAL frames are index pages
 * scattered over ~600 MB. A time-ordered key appends at the right edge of the index instead.
 * Nonces issued before have tokens without time chars; their key is 6 zero bytes || the stored SHA-256, which
 * is what `tokenKey` computes for such a token, so they keep working until they expire.
 *
 * SQLite cannot drop the inline UNIQUE (its autoindex) with ALTER TABLE, so the table is rebuilt (the
 * documented create / copy / drop / rename sequence, inside the runner's transaction). Nothing references
 * nonces by foreign key and no trigger or view is defined on it, so foreign_keys can stay on; the columns are
 * listed explicitly (002 appended `rate` last) and every index on nonces is recreated after the rename. The key
 * is built with unhex/hex (SQLite >= 3.41, bundled by better-sqlite3): `||` on blobs yields TEXT, which a STRICT
 * BLOB column refuses.
 */
const NONCE_INDEXES = [
  "CREATE INDEX nonces_agent_idx ON nonces (agent, id)",
  "CREATE INDEX nonces_task_idx ON nonces (task, id)",
  "CREATE INDEX nonces_service_idx ON nonces (service, id)",
  "CREATE INDEX nonces_issued_by_idx ON nonces (issued_by, id)",
  "CREATE INDEX nonces_expires_at_idx ON nonces (expires_at)",
];

const COLUMNS = `id, service, scopes, routes, agent, task, max_uses, uses, constraints, metadata, issued_by, created_at,
  expires_at, revoked_at, rate`;

export const nonceTokenKey: Migration = {
  version: 6,
  name: "nonce_token_key",
  sqlite: [
    `CREATE TABLE nonces_new (
      id TEXT PRIMARY KEY,
      token_key BLOB NOT NULL UNIQUE CHECK (length(token_key) = 38),
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
      revoked_at INTEGER,
      rate TEXT
    ) STRICT`,
    `INSERT INTO nonces_new (token_key, ${COLUMNS})
      SELECT unhex('000000000000' || hex(token_hash)), ${COLUMNS} FROM nonces`,
    "DROP TABLE nonces",
    "ALTER TABLE nonces_new RENAME TO nonces",
    ...NONCE_INDEXES,
  ],
  postgres: [
    "ALTER TABLE nonces ADD COLUMN token_key BYTEA",
    "UPDATE nonces SET token_key = '\\x000000000000'::bytea || token_hash",
    "ALTER TABLE nonces ALTER COLUMN token_key SET NOT NULL",
    "ALTER TABLE nonces ADD CONSTRAINT nonces_token_key_key UNIQUE (token_key)",
    "ALTER TABLE nonces ADD CONSTRAINT nonces_token_key_check CHECK (length(token_key) = 38)",
    // Drops the column's UNIQUE constraint (nonces_token_hash_key), its index and its CHECK with it.
    "ALTER TABLE nonces DROP COLUMN token_hash",
  ],
};
