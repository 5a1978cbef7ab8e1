import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { createPostgresStore } from "../store/postgres.js";
import { createSqliteStore } from "../store/sqlite.js";
import type { Store } from "../store/store.js";

/**
 * Store factories for tests, one per dialect, each giving a fresh, migrated, isolated store whose close()
 * also removes what it created (SQLite: the temp dir; PostgreSQL: its `an_test_<random>` schema).
 *
 *   describe.each(dialects)("$name", (d) => { … d.create() … })   // skipIf(d.skip) for PostgreSQL
 *
 * PostgreSQL: AGENT_NONCE_TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test. When it is
 * unreachable the PostgreSQL suites are skipped with a loud warning, except under CI, where they run and fail.
 */
export const TEST_DATABASE_URL = process.env.AGENT_NONCE_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

export interface TestStoreOptions {
  /** PostgreSQL pool size (concurrency tests want >= 10 so requests truly race). */
  poolSize?: number;
}

export interface DialectFactory {
  name: "sqlite" | "postgres";
  /** True when this dialect's tests should be skipped (PostgreSQL unreachable outside CI). */
  skip: boolean;
  create(opts?: TestStoreOptions): Promise<Store>;
}

async function probe(url: string): Promise<string | null> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  c.on("error", () => {});
  try {
    await c.connect();
    await c.query("SELECT 1");
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  } finally {
    await c.end().catch(() => {});
  }
}

function hostOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || "5432"}${u.pathname}`;
  } catch {
    return "(unparseable URL)";
  }
}

const pgError = await probe(TEST_DATABASE_URL);
const inCi = !["", "0", "false", undefined].includes(process.env.CI?.toLowerCase());
if (pgError !== null && !inCi) {
  console.warn(
    `\n!!! PostgreSQL at ${hostOf(TEST_DATABASE_URL)} is unreachable (${pgError}).\n` +
      "!!! PostgreSQL store tests are SKIPPED. Set AGENT_NONCE_TEST_DATABASE_URL or start PostgreSQL; under CI they fail.\n",
  );
}

export async function createTestSqliteStore(): Promise<Store> {
  const dir = mkdtempSync(path.join(tmpdir(), "an-store-"));
  try {
    const store = await createSqliteStore({ filename: path.join(dir, "agent-nonce.db"), synchronous: "NORMAL" });
    await store.migrate();
    return {
      ...store,
      async close() {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export async function createTestPostgresStore(opts: TestStoreOptions = {}): Promise<Store> {
  if (pgError !== null) {
    throw new Error(`PostgreSQL at ${hostOf(TEST_DATABASE_URL)} is unreachable (${pgError})`);
  }
  const schema = `an_test_${randomBytes(6).toString("hex")}`;
  // The schema name is generated above from hex digits only; identifiers cannot be bound as parameters.
  const drop = () => admin((c) => c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
  await admin((c) => c.query(`CREATE SCHEMA "${schema}"`));
  try {
    const store = await createPostgresStore({
      connectionString: TEST_DATABASE_URL,
      schema,
      poolSize: opts.poolSize ?? 10,
    });
    try {
      await store.migrate();
    } catch (e) {
      await store.close();
      throw e;
    }
    return {
      ...store,
      async close() {
        await store.close();
        await drop();
      },
    };
  } catch (e) {
    await drop();
    throw e;
  }
}

/** True when PostgreSQL-only tests should be skipped (unreachable, outside CI). */
export const skipPostgres = pgError !== null && !inCi;

export const dialects: DialectFactory[] = [
  { name: "sqlite", skip: false, create: () => createTestSqliteStore() },
  { name: "postgres", skip: skipPostgres, create: (o) => createTestPostgresStore(o) },
];
