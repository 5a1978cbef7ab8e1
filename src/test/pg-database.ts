import { randomBytes } from "node:crypto";
import pg from "pg";
import { TEST_DATABASE_URL } from "./stores.js";

/**
 * A whole PostgreSQL database of its own for a multi-process test (replicas share a database, not a schema):
 * created on the test server as its user, dropped with FORCE so a killed replica's sessions do not block it.
 */
export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
  c.on("error", () => {});
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `an_replicas_${randomBytes(6).toString("hex")}`;
  // The name is generated from hex digits above; identifiers cannot be bound as parameters.
  await admin((c) => c.query(`CREATE DATABASE "${name}"`));
  const u = new URL(TEST_DATABASE_URL);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined),
  };
}

/** One query on the test database, for assertions behind the replicas' backs. */
export async function queryDatabase<R extends pg.QueryResultRow>(url: string, sql: string): Promise<R[]> {
  const c = new pg.Client({ connectionString: url });
  c.on("error", () => {});
  await c.connect();
  try {
    return (await c.query<R>(sql)).rows;
  } finally {
    await c.end();
  }
}
