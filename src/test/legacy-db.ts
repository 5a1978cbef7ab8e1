import { hash as digest, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { MIGRATIONS, MIGRATIONS_TABLE_POSTGRES, MIGRATIONS_TABLE_SQLITE } from "../store/migrations/index.js";
import { createPostgresStore } from "../store/postgres.js";
import { createSqliteStore } from "../store/sqlite.js";
import type { Store } from "../store/store.js";
import { skipPostgres, TEST_DATABASE_URL } from "./stores.js";

/**
 * A database left at an older schema version, as a server of that version would have left it: the migrations up
 * to `version` applied statement by statement and recorded, rows written with raw SQL in that version's shape.
 * `open()` then gives the current store on it, so `migrate()` upgrades it in place.
 */
export interface LegacyDb {
  /** The current store on this database (not migrated: call migrate()). The caller closes it. */
  open(): Promise<Store>;
  /** Raw SQL with `?` placeholders (rewritten to $n for PostgreSQL). */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Where the database lives: the SQLite file, or the PostgreSQL schema. */
  where: string;
  close(): Promise<void>;
}

export interface LegacyDialect {
  name: "sqlite" | "postgres";
  skip: boolean;
  create(version: number): Promise<LegacyDb>;
}

async function legacySqlite(version: number): Promise<LegacyDb> {
  const dir = mkdtempSync(path.join(tmpdir(), "an-legacy-"));
  const filename = path.join(dir, "agent-nonce.db");
  const raw = new Database(filename);
  raw.pragma("journal_mode = WAL");
  raw.pragma("busy_timeout = 5000");
  raw.transaction(() => {
    raw.exec(MIGRATIONS_TABLE_SQLITE);
    for (const m of MIGRATIONS.filter((x) => x.version <= version)) {
      for (const stmt of m.sqlite) raw.exec(stmt);
      raw.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, 0)").run(m.version, m.name);
    }
  })();
  return {
    where: filename,
    async open() {
      return createSqliteStore({ filename, synchronous: "NORMAL" });
    },
    async query<T>(sql: string, params: unknown[] = []) {
      const st = raw.prepare(sql);
      if (st.reader) return st.all(...params) as T[];
      st.run(...params);
      return [];
    },
    async close() {
      raw.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function legacyPostgres(version: number): Promise<LegacyDb> {
  const schema = `an_legacy_${randomBytes(6).toString("hex")}`;
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${schema}` });
  await client.connect();
  await client.query(`CREATE SCHEMA "${schema}"`);
  await client.query("BEGIN");
  await client.query(MIGRATIONS_TABLE_POSTGRES);
  for (const m of MIGRATIONS.filter((x) => x.version <= version)) {
    for (const stmt of m.postgres) await client.query(stmt);
    await client.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, 0)", [
      m.version,
      m.name,
    ]);
  }
  await client.query("COMMIT");
  return {
    where: schema,
    async open() {
      return createPostgresStore({ connectionString: TEST_DATABASE_URL, schema, poolSize: 4 });
    },
    async query<T>(sql: string, params: unknown[] = []) {
      let n = 0;
      const r = await client.query(
        sql.replace(/\?/g, () => `$${++n}`),
        params,
      );
      return r.rows as T[];
    },
    async close() {
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    },
  };
}

export const legacyDialects: LegacyDialect[] = [
  { name: "sqlite", skip: false, create: legacySqlite },
  { name: "postgres", skip: skipPostgres, create: legacyPostgres },
];

/** Inserts a nonce the way versions 2–5 stored it: `token_hash` = SHA-256 of the token. */
export async function insertLegacyNonce(
  db: LegacyDb,
  token: string,
  o: { id: string; service: string; routes: string[]; now: number; maxUses?: number | null; revokedAt?: number },
): Promise<void> {
  await db.query(
    `INSERT INTO nonces (id, token_hash, service, scopes, routes, agent, task, max_uses, uses, constraints, metadata,
       issued_by, created_at, expires_at, revoked_at, rate)
     VALUES (?, ?, ?, ?, ?, 'legacy-agent', 'legacy-task', ?, 0, NULL, '{"k":"v"}', 'key_legacy', ?, ?, ?, NULL)`,
    [
      o.id,
      digest("sha256", token, "buffer"),
      o.service,
      JSON.stringify(o.routes),
      JSON.stringify(o.routes),
      o.maxUses ?? null,
      o.now,
      o.now + 3_600_000,
      o.revokedAt ?? null,
    ],
  );
}
