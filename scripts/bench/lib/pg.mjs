import { randomBytes } from "node:crypto";
import pg from "pg";

/** Throwaway PostgreSQL databases for the bench (`an_bench_<hex>`), dropped when done. */

export const PG_ADMIN_URL = process.env.AGENT_NONCE_BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";

export async function pgReachable() {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    await c.end();
    return true;
  } catch {
    return false;
  }
}

export async function createBenchDatabase() {
  const name = `an_bench_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${name}`;
  return {
    name,
    url: u.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** Drops databases a killed earlier bench run left behind (only the bench's own prefix). */
export async function dropStaleBenchDatabases() {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL });
  await c.connect();
  const r = await c.query("SELECT datname FROM pg_database WHERE datname LIKE 'an\\_bench\\_%'");
  for (const { datname } of r.rows) await c.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
  await c.end();
  return r.rows.length;
}
