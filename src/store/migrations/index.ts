import { initial } from "./001_initial.js";
import { nonceRate } from "./002_nonce_rate.js";
import { auditCheckpoints } from "./003_audit_checkpoints.js";
import { auditIndexes } from "./004_audit_indexes.js";
import { auditIndex } from "./005_audit_index.js";
import { nonceTokenKey } from "./006_nonce_token_key.js";
import { nonceCredentialParams } from "./007_nonce_credential_params.js";
import { trustRelationships } from "./008_trust_relationships.js";
import { approvals } from "./009_approvals.js";
import { nonceDelegation } from "./010_nonce_delegation.js";
import { nonceRateState } from "./011_nonce_rate_state.js";

/**
 * Versioned schema migrations, kept as code so `tsc` ships them in dist. Each dialect's runner applies, in one
 * transaction under a lock, every migration whose version is not yet in `schema_migrations`. Statements are
 * static DDL: no value is ever interpolated into them.
 */
export interface Migration {
  version: number;
  name: string;
  sqlite: readonly string[];
  postgres: readonly string[];
}

export const MIGRATIONS: readonly Migration[] = [
  initial,
  nonceRate,
  auditCheckpoints,
  auditIndexes,
  auditIndex,
  nonceTokenKey,
  nonceCredentialParams,
  trustRelationships,
  approvals,
  nonceDelegation,
  nonceRateState,
];

export const MIGRATIONS_TABLE_SQLITE =
  "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT";
export const MIGRATIONS_TABLE_POSTGRES =
  "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)";

export function pending(applied: Iterable<number>): Migration[] {
  const done = new Set(applied);
  return MIGRATIONS.filter((m) => !done.has(m.version));
}
