import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import pg from "pg";
import { createLogger } from "../app/logger.js";
import { type ConfigInput, loadConfig } from "../config.js";
import type { Clock } from "../core/clock.js";
import { generateToken } from "../core/tokens.js";
import { type RunningServer, startServer } from "../server.js";

/**
 * Runs the whole server (both listeners, real store) on ephemeral loopback ports for end-to-end tests, on SQLite
 * in a temp data dir or on a throwaway PostgreSQL database.
 */

export const PG_ADMIN_URL = process.env.AGENT_NONCE_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

export interface E2eServer extends RunningServer {
  adminApiKey: string;
  dataDir: string;
  /** Every log line the server wrote (level debug), for "no token or secret in any log line" checks. */
  logs(): string;
  stop(): Promise<void>;
}

export async function pgReachable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    await c.end();
    return true;
  } catch {
    if (process.env.CI) throw new Error(`PostgreSQL is required in CI but ${PG_ADMIN_URL} is unreachable`);
    console.warn(`\n*** PostgreSQL at ${PG_ADMIN_URL} is unreachable: SKIPPING PostgreSQL end-to-end tests ***\n`);
    return false;
  }
}

async function createDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `an_e2e_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export async function startE2e(
  dialect: "sqlite" | "postgres",
  opts: { clock?: Clock; dataDir?: string; config?: Partial<ConfigInput> } = {},
): Promise<E2eServer> {
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(tmpdir(), "an-e2e-"));
  const db = dialect === "postgres" ? await createDatabase() : null;
  const adminApiKey = opts.config?.adminKey ?? generateToken("ank");
  const config = loadConfig({
    flags: {
      dataDir,
      apiPort: 0,
      gatewayPort: 0,
      logLevel: "silent",
      adminKey: adminApiKey,
      ...(db ? { databaseUrl: db.url } : {}),
      ...opts.config,
    },
  });
  let logText = "";
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logText += chunk.toString();
      done();
    },
  });
  const running = await startServer(config, {
    log: createLogger("debug", sink),
    ...(opts.clock ? { clock: opts.clock } : {}),
  });
  return {
    ...running,
    adminApiKey,
    dataDir,
    logs: () => logText,
    async stop() {
      await running.close();
      await db?.drop();
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function fakeSecret(prefix = "sk_test_FAKE_"): string {
  return `${prefix}${randomBytes(12).toString("hex")}`;
}
