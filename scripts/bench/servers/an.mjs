import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLogger } from "../../../dist/app/logger.js";
import { loadConfig } from "../../../dist/config.js";
import { generateToken, tokenKey } from "../../../dist/core/tokens.js";
import { startServer } from "../../../dist/server.js";
import { auditOffPostgres, auditOffSqlite } from "../lib/audit-off.mjs";
import { createBenchDatabase } from "../lib/pg.mjs";
import { issueLongNonce, seedService } from "../lib/seed.mjs";

/**
 * Agent Nonce as the bench runs it: the compiled server (dist/) via startServer, both listeners on loopback
 * ports, a throwaway data dir / PostgreSQL database, a "bench" service pointing at the bench upstream, and one
 * long-lived nonce. Usage: an.mjs '{"dialect":"sqlite","synchronous":"FULL","audit":true,"upstream":"http://…"}'
 * (`synchronous` defaults to the product default). `"store": false` is B4's "store skipped" diagnostic, never a
 * product switch: after seeding, this process's store answers the gateway's consume from memory (the nonce
 * record read at start; the caller's audit draft is still built) and drops audit appends, so what remains is
 * every other part of a gateway request: the measured gap to the full server is the durable, audited consume.
 * Prints `READY {apiUrl, gatewayUrl, adminKey, nonce, dataDir}`; SIGTERM closes everything and deletes the data.
 */

const opts = JSON.parse(process.argv[2] ?? "{}");
const dataDir = mkdtempSync(path.join(tmpdir(), "an-bench-"));
const db = opts.dialect === "postgres" ? await createBenchDatabase() : null;
const adminKey = generateToken("ank");
const config = loadConfig({
  flags: {
    dataDir,
    apiPort: 0,
    gatewayPort: 0,
    logLevel: "silent",
    adminKey,
    // Unless a workload asks for one, measure the product default (config.ts: NORMAL).
    ...(opts.synchronous ? { sqliteSynchronous: opts.synchronous } : {}),
    ttl: { default: 300, min: 1, max: 86_400 },
    gateway: { maxConcurrentPerNonce: 4096 },
    ...(db ? { databaseUrl: db.url } : {}),
  },
});

let running;
const cleanup = async () => {
  await running?.close().catch(() => undefined);
  await db?.drop().catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
};
process.on("SIGTERM", () => cleanup().finally(() => process.exit(0)));
process.on("SIGINT", () => cleanup().finally(() => process.exit(0)));

try {
  running = await startServer(config, { log: createLogger("silent") });
  if (opts.audit === false) {
    if (db) await auditOffPostgres(db.url);
    else auditOffSqlite(path.join(dataDir, "agent-nonce.db"));
  }
  await seedService(running.apiUrl, adminKey, opts.upstream);
  const nonce = await issueLongNonce(running.apiUrl, adminKey);
  if (opts.store === false) await skipStoreWrites(running.ctx.store, nonce);
  console.log(
    `READY ${JSON.stringify({ apiUrl: running.apiUrl, gatewayUrl: running.gatewayUrl, adminKey, nonce, dataDir })}`,
  );
} catch (e) {
  console.error(e);
  await cleanup();
  process.exit(1);
}

/** The "store skipped" diagnostic (see the header): the one bench nonce, always accepted, nothing written. */
async function skipStoreWrites(store, token) {
  const record = await store.getNonceByKey(tokenKey(token));
  if (!record) throw new Error("store-skipped diagnostic: the bench nonce is not in the store");
  store.consumeNonce = async (_key, _now, onOk) => {
    onOk(record);
    return { ok: true, nonce: record };
  };
  store.appendAudit = async () => [];
}
