import type { Migration } from "./index.js";

/**
 * Signed audit checkpoints (see src/app/audit-checkpoints.ts). Keyed by (seq, kid): several replicas, each with
 * its own signing key, may checkpoint the same head. Rows are only inserted, and deleted by retention below
 * the checkpoint the retained chain starts from.
 */
export const auditCheckpoints: Migration = {
  version: 3,
  name: "audit_checkpoints",
  sqlite: [
    `CREATE TABLE audit_checkpoints (
      seq INTEGER NOT NULL,
      kid TEXT NOT NULL,
      hash TEXT NOT NULL,
      time INTEGER NOT NULL,
      events INTEGER NOT NULL,
      public_key TEXT NOT NULL,
      jws TEXT NOT NULL,
      PRIMARY KEY (seq, kid)
    ) STRICT`,
  ],
  postgres: [
    `CREATE TABLE audit_checkpoints (
      seq BIGINT NOT NULL,
      kid TEXT COLLATE "C" NOT NULL,
      hash TEXT NOT NULL,
      "time" BIGINT NOT NULL,
      events BIGINT NOT NULL,
      public_key TEXT NOT NULL,
      jws TEXT NOT NULL,
      PRIMARY KEY (seq, kid)
    )`,
  ],
};
