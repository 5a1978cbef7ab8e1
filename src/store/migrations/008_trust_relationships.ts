import type { Migration } from "./index.js";

/**
 * OIDC trust relationships (src/app/trust.ts): which issuer's tokens, for which audience, subject and claims, act
 * as which role and policy. `claims` and `policy` are JSON text. No secret is stored: the issuer's public keys are
 * fetched from its JWKS and kept in memory only.
 */
export const trustRelationships: Migration = {
  version: 8,
  name: "trust_relationships",
  sqlite: [
    `CREATE TABLE trust_relationships (
      name TEXT PRIMARY KEY,
      issuer TEXT NOT NULL,
      audience TEXT NOT NULL,
      subject TEXT,
      claims TEXT,
      role TEXT NOT NULL CHECK (role IN ('issuer', 'auditor')),
      policy TEXT,
      jwks_uri TEXT,
      insecure_issuer INTEGER NOT NULL,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL
    ) STRICT`,
    "CREATE INDEX trust_relationships_issuer_idx ON trust_relationships (issuer, name)",
  ],
  postgres: [
    `CREATE TABLE trust_relationships (
      name TEXT COLLATE "C" PRIMARY KEY,
      issuer TEXT NOT NULL,
      audience TEXT NOT NULL,
      subject TEXT,
      claims TEXT,
      role TEXT NOT NULL CHECK (role IN ('issuer', 'auditor')),
      policy TEXT,
      jwks_uri TEXT,
      insecure_issuer BOOLEAN NOT NULL,
      created_at BIGINT NOT NULL,
      updated_at BIGINT NOT NULL
    )`,
    "CREATE INDEX trust_relationships_issuer_idx ON trust_relationships (issuer, name)",
  ],
};
