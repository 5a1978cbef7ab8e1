import type { Migration } from "./index.js";

/**
 * Delegation and tripwires (DESIGN.md "Orchestrator identity, approvals, delegation"): `parent_id` (the nonce a
 * child was delegated from, null for a nonce issued with an API key), `depth` (0 for a root, parent's + 1) and
 * `canary` (1: a tripwire, never meant to be used). Plain ADD COLUMN on both dialects (constant defaults need no
 * table rebuild in SQLite). The index on parent_id serves the revocation cascade (all descendants of a nonce).
 */
export const nonceDelegation: Migration = {
  version: 10,
  name: "nonce_delegation",
  sqlite: [
    "ALTER TABLE nonces ADD COLUMN parent_id TEXT",
    "ALTER TABLE nonces ADD COLUMN depth INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE nonces ADD COLUMN canary INTEGER NOT NULL DEFAULT 0",
    "CREATE INDEX nonces_parent_idx ON nonces (parent_id) WHERE parent_id IS NOT NULL",
  ],
  postgres: [
    "ALTER TABLE nonces ADD COLUMN parent_id TEXT",
    "ALTER TABLE nonces ADD COLUMN depth INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE nonces ADD COLUMN canary INTEGER NOT NULL DEFAULT 0",
    "CREATE INDEX nonces_parent_idx ON nonces (parent_id) WHERE parent_id IS NOT NULL",
  ],
};
