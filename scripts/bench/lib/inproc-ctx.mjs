import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { nonceDraft } from "../../../dist/app/audit-draft.js";
import { issueNonce } from "../../../dist/app/issue-nonce.js";
import { createLogger } from "../../../dist/app/logger.js";
import { createServiceCache } from "../../../dist/app/service-cache.js";
import { loadConfig } from "../../../dist/config.js";
import { generateToken, hashToken } from "../../../dist/core/tokens.js";
import { startServer } from "../../../dist/server.js";
import { createBenchDatabase } from "./pg.mjs";
import { seedService } from "./seed.mjs";

/**
 * Agent Nonce in this process, for the in-process workloads: the real composition root (startServer, control
 * plane only, port 0) on a throwaway SQLite file or PostgreSQL database, a "bench" service, and the admin caller
 * so the use case (issueNonce) and the store (consumeNonce) can be called directly.
 */
export async function startInproc({ dialect, synchronous = "FULL" }) {
  const dataDir = mkdtempSync(path.join(tmpdir(), "an-bench-inproc-"));
  const db = dialect === "postgres" ? await createBenchDatabase() : null;
  const adminKey = generateToken("ank");
  const config = loadConfig({
    flags: {
      dataDir,
      apiPort: 0,
      role: "api",
      logLevel: "silent",
      adminKey,
      sqliteSynchronous: synchronous,
      ttl: { default: 300, min: 1, max: 86_400 },
      ...(db ? { databaseUrl: db.url } : {}),
    },
  });
  const running = await startServer(config, { log: createLogger("silent") });
  await seedService(running.apiUrl, adminKey, "http://127.0.0.1:9");
  const ctx = running.ctx;
  const key = await ctx.store.getApiKeyByHash(hashToken(adminKey));
  const caller = { key, sourceIp: "127.0.0.1" };
  const services = createServiceCache(ctx);
  const input = { service: "bench", scope: "read", agent: "bench-agent", ttl: "5m" };
  return {
    ctx,
    caller,
    dialect,
    synchronous,
    sqliteFile: db ? null : path.join(dataDir, "agent-nonce.db"),
    pgUrl: db?.url ?? null,
    issue: (over = {}) => issueNonce(ctx, services, caller, { ...input, ...over }),
    async stop() {
      services.dispose();
      await running.close();
      await db?.drop().catch(() => undefined);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Consumes one use of the nonce with this token key (`tokenKey`), with the same audit drafts the gateway builds. */
export function consume(ctx, key) {
  const now = ctx.clock.now();
  const request = { method: "GET", path: "/v1/items", status: null, duration_ms: null, bytes: null };
  const at = { now, sourceIp: "127.0.0.1", requestId: "req_bench" };
  const draft = (type, n, reason) => nonceDraft(type, n, reason, request, at);
  return ctx.store.consumeNonce(
    key,
    now,
    (n) => draft("nonce.used", n, null),
    (reason, n) => (n ? draft("nonce.rejected", n, reason) : null),
  );
}

/** Closed loop in process: `concurrency` callers, each starting the next call when its previous one settled. */
export async function closedLoop(fn, { concurrency, seconds }) {
  const lat = [];
  let errors = 0;
  let firstError = null;
  const end = performance.now() + seconds * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        await fn();
      } catch (e) {
        errors += 1;
        firstError ??= e;
      }
      lat.push((performance.now() - t0) * 1000);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const pct = (p) => lat[Math.min(lat.length - 1, Math.max(0, Math.ceil((p / 100) * lat.length) - 1))];
  if (errors > 0) throw new Error(`${errors} calls failed; first: ${firstError?.message ?? firstError}`);
  return { ops: lat.length, ops_per_s: lat.length / secs, p50_us: pct(50), p99_us: pct(99) };
}
