/** SQLite's `synchronous` modes the store runs with. No imports: config.ts reads the default from here. */
export const SQLITE_SYNCHRONOUS_MODES = ["NORMAL", "FULL"] as const;
export type SqliteSynchronous = (typeof SQLITE_SYNCHRONOUS_MODES)[number];
/**
 * The one default for `synchronous` (config's AGENT_NONCE_SQLITE_SYNCHRONOUS and createSqliteStore both use it).
 * NORMAL: a write acknowledged before a `kill -9` survives it (WAL commits have reached the
 * kernel); FULL adds an fsync per commit, for power loss (docs/operations.md).
 */
export const DEFAULT_SQLITE_SYNCHRONOUS: SqliteSynchronous = "NORMAL";
