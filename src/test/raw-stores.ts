import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { createPostgresStore } from "../store/postgres.js";
import { createSqliteStore } from "../store/sqlite.js";
import type { Store } from "../store/store.js";
import { skipPostgres, TEST_DATABASE_URL } from "./stores.js";

/**
 * Stores with a second, raw connection to the same database, for tests that play the attacker: edit, delete and
 * reorder rows behind the store's back (better-sqlite3 on the SQLite file; a pg client on the test schema).
 * SQL given to `exec` must be valid on both dialects (literal values, no parameters).
 */
export interface RawStore {
  store: Store;
  /** A data dir beside the database (for signing keys and checkpoint files). */
  dataDir: string;
  exec(sql: string): Promise<void>;
  /** Copies the whole database aside (SQLite only: a consistent file copy, as an operator's backup would be). */
  snapshot?(): Promise<() => Promise<Store>>;
  close(): Promise<void>;
}

export interface RawDialect {
  name: "sqlite" | "postgres";
  skip: boolean;
  create(): Promise<RawStore>;
}

async function rawSqlite(): Promise<RawStore> {
  const dir = mkdtempSync(path.join(tmpdir(), "an-raw-"));
  const dataDir = path.join(dir, "data");
  const filename = path.join(dir, "agent-nonce.db");
  const open = async () => {
    const s = await createSqliteStore({ filename, synchronous: "NORMAL" });
    await s.migrate();
    return s;
  };
  const raw: RawStore = {
    store: await open(),
    dataDir,
    async exec(sql) {
      const db = new Database(filename);
      try {
        db.pragma("busy_timeout = 5000");
        db.exec(sql);
      } finally {
        db.close();
      }
    },
    async snapshot() {
      const copy = path.join(dir, `snapshot-${randomBytes(4).toString("hex")}.db`);
      const db = new Database(filename);
      try {
        db.exec(`VACUUM INTO '${copy}'`);
      } finally {
        db.close();
      }
      return async () => {
        await raw.store.close();
        for (const suffix of ["-wal", "-shm"]) if (existsSync(filename + suffix)) rmSync(filename + suffix);
        copyFileSync(copy, filename);
        raw.store = await open();
        return raw.store;
      };
    },
    async close() {
      await raw.store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return raw;
}

async function rawPostgres(): Promise<RawStore> {
  const schema = `an_raw_${randomBytes(6).toString("hex")}`;
  const dir = mkdtempSync(path.join(tmpdir(), "an-raw-"));
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${schema}` });
  await client.connect();
  await client.query(`CREATE SCHEMA "${schema}"`);
  const store = await createPostgresStore({ connectionString: TEST_DATABASE_URL, schema, poolSize: 4 });
  await store.migrate();
  return {
    store,
    dataDir: path.join(dir, "data"),
    async exec(sql) {
      await client.query(sql);
    },
    async close() {
      await store.close();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const rawDialects: RawDialect[] = [
  { name: "sqlite", skip: false, create: rawSqlite },
  { name: "postgres", skip: skipPostgres, create: rawPostgres },
];
