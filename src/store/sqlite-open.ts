import { chmodSync, closeSync, existsSync, openSync } from "node:fs";
import Database from "better-sqlite3";
import { MIGRATIONS_TABLE_SQLITE, pending } from "./migrations/index.js";
import { PRAGMAS, SCHEMA, synchronousPragma } from "./sqlite-sql.js";
import type { SqliteSynchronous } from "./sqlite-synchronous.js";

/**
 * Opens the SQLite file: created 0600 before SQLite touches it (SQLite would use the umask), WAL for concurrent
 * readers, a busy timeout so a second process waits instead of failing, foreign keys on, and `synchronous`
 * FULL by default (NORMAL trades the last transactions on power loss for speed; never corruption).
 */
export function openSqlite(filename: string, synchronous: SqliteSynchronous): Database.Database {
  if (filename !== ":memory:") {
    // "a" creates with the given mode if missing and never truncates an existing database.
    closeSync(openSync(filename, "a", 0o600));
    chmodSync(filename, 0o600);
  }
  const db = new Database(filename);
  try {
    db.pragma(PRAGMAS.journalModeWal);
    db.pragma(PRAGMAS.busyTimeout);
    db.pragma(PRAGMAS.foreignKeys);
    db.pragma(synchronousPragma(synchronous));
    restrictSidecars(filename);
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}

/** The -wal and -shm files hold recent pages: same permissions as the database. */
export function restrictSidecars(filename: string): void {
  if (filename === ":memory:") return;
  for (const suffix of ["-wal", "-shm"]) {
    const f = filename + suffix;
    if (existsSync(f)) chmodSync(f, 0o600);
  }
}

/** Applies pending migrations in one IMMEDIATE transaction, so two processes starting at once serialise. */
export function migrateSqlite(db: Database.Database, now: number): void {
  db.transaction(() => {
    db.exec(MIGRATIONS_TABLE_SQLITE);
    const applied = db.prepare(SCHEMA.appliedMigrations).pluck().all() as number[];
    const record = db.prepare(SCHEMA.recordMigration);
    for (const m of pending(applied)) {
      for (const stmt of m.sqlite) db.exec(stmt);
      record.run(m.version, m.name, now);
    }
  }).immediate();
}
