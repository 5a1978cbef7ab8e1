#!/usr/bin/env node
/**
 * Replicas on one PostgreSQL database (DESIGN.md "Running more than one replica"): gateway throughput with one and
 * with two gateway processes at 32 connections in total, and how long a nonce revocation and an API-key revocation
 * made on replica 1 take to take effect on replica 2 (p50/p99 over `--samples` trials, each measured by polling
 * replica 2 back to back, so the figure includes one request's latency).
 *
 *   npm run build && node scripts/bench/replicas.mjs [--seconds 10] [--samples 40]
 *
 * Needs PostgreSQL (AGENT_NONCE_BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432/test); creates and drops
 * its own `an_bench_<hex>` database. Not a test: figures go to docs/BENCHMARKS.md with the machine.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { httpLoad } from "./lib/load.mjs";
import { createBenchDatabase, pgReachable } from "./lib/pg.mjs";
import { freePort } from "./lib/proc.mjs";
import { percentile } from "./lib/stats.mjs";
import { startUpstream } from "./lib/targets.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? def : Number(process.argv[i + 1]);
};
const SECONDS = arg("seconds", 10);
const SAMPLES = arg("samples", 40);
const log = (m) => process.stderr.write(`${m}\n`);

async function replica(dbUrl, env) {
  const [apiPort, gatewayPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(path.join(tmpdir(), "an-bench-replica-"));
  const child = spawn(
    process.execPath,
    ["bin/agent-nonce.js", "serve", "--data-dir", dir, "--api-port", `${apiPort}`, "--gateway-port", `${gatewayPort}`],
    {
      cwd: ROOT,
      env: { PATH: process.env.PATH, AGENT_NONCE_DATABASE_URL: dbUrl, AGENT_NONCE_LOG_LEVEL: "warn", ...env },
      stdio: ["ignore", "ignore", "inherit"],
    },
  );
  const api = `http://127.0.0.1:${apiPort}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${api}/readyz`)).ok) break;
    } catch {}
    if (i > 300) throw new Error("replica did not become ready");
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    api,
    gateway: `http://127.0.0.1:${gatewayPort}`,
    async stop() {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function call(base, key, method, p, body) {
  const r = await fetch(base + p, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${p} → ${r.status} ${text.slice(0, 200)}`);
  return text ? JSON.parse(text) : null;
}

const status = async (url, key) => {
  const r = await fetch(url, { headers: { authorization: `Bearer ${key}` } });
  await r.arrayBuffer();
  return r.status;
};

/** ms from the revoking call's answer on replica 1 until replica 2 refuses (polled back to back). */
async function effectMs(revoke, probe) {
  await revoke();
  const t0 = performance.now();
  for (let i = 0; i < 100_000; i++) if ((await probe()) === 401) return performance.now() - t0;
  throw new Error("never took effect");
}

const summary = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { p50_ms: +percentile(s, 50).toFixed(2), p99_ms: +percentile(s, 99).toFixed(2), n: s.length };
};

async function main() {
  if (!(await pgReachable())) throw new Error("PostgreSQL is unreachable");
  const db = await createBenchDatabase();
  const up = await startUpstream();
  const { generateToken } = await import("../../dist/core/tokens.js");
  const adminKey = generateToken("ank");
  const env = { AGENT_NONCE_MASTER_KEY: randomBytes(32).toString("base64") };
  const r1 = await replica(db.url, { ...env, AGENT_NONCE_ADMIN_KEY: adminKey });
  const r2 = await replica(db.url, env);
  try {
    await call(r1.api, adminKey, "PUT", "/v1/services/bench", {
      upstream: up.url,
      insecure_upstream: true,
      auth: { type: "bearer" },
      scopes: { read: ["GET /v1/**"] },
    });
    await call(r1.api, adminKey, "PUT", "/v1/services/bench/credential", {
      secret: `sk_test_FAKE_${randomBytes(12).toString("hex")}`,
    });
    const issue = () =>
      call(r1.api, adminKey, "POST", "/v1/nonces", { service: "bench", scope: "read", agent: "bench", ttl: "1h" });
    const { nonce } = await issue();
    const h = { authorization: `Bearer ${nonce}` };

    log(`throughput: ${SECONDS}s per run, 32 connections`);
    await httpLoad({ url: `${r1.gateway}/v1/items`, headers: h, connections: 32, seconds: 2 });
    const one = await httpLoad({ url: `${r1.gateway}/v1/items`, headers: h, connections: 32, seconds: SECONDS });
    const two = await Promise.all(
      [r1, r2].map((r) => httpLoad({ url: `${r.gateway}/v1/items`, headers: h, connections: 16, seconds: SECONDS })),
    );

    log(`propagation: ${SAMPLES} samples each`);
    const nonceRevocation = [];
    for (let i = 0; i < SAMPLES; i++) {
      const n = await issue();
      if ((await status(`${r2.gateway}/v1/items`, n.nonce)) !== 200) throw new Error("nonce not usable on replica 2");
      nonceRevocation.push(
        await effectMs(
          () => call(r1.api, adminKey, "DELETE", `/v1/nonces/${n.id}`),
          () => status(`${r2.gateway}/v1/items`, n.nonce),
        ),
      );
    }
    const keyRevocation = [];
    for (let i = 0; i < SAMPLES; i++) {
      const k = await call(r1.api, adminKey, "POST", "/v1/keys", { name: `bench-${i}`, role: "auditor" });
      // Warm replica 2's key cache so the measurement is the invalidation, not a cache miss.
      while ((await status(`${r2.api}/v1/audit?limit=1`, k.key)) !== 200);
      keyRevocation.push(
        await effectMs(
          () => call(r1.api, adminKey, "DELETE", `/v1/keys/${k.id}`),
          () => status(`${r2.api}/v1/audit?limit=1`, k.key),
        ),
      );
    }
    const result = {
      gateway_rps_c32: {
        one_gateway: Math.round(one.rps),
        two_gateways: Math.round(two[0].rps + two[1].rps),
        errors: one.errors + two[0].errors + two[1].errors,
      },
      nonce_revocation_on_other_replica: summary(nonceRevocation),
      api_key_revocation_on_other_replica: summary(keyRevocation),
    };
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await Promise.allSettled([r1.stop(), r2.stop()]);
    await up.stop();
    await db.drop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
