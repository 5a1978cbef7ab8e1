import Database from "better-sqlite3";
import pg from "pg";
import { Bench } from "tinybench";
import { compileRoutes } from "../../../dist/core/scopes.js";
import { isWellFormed, tokenKey } from "../../../dist/core/tokens.js";
import { canonicalizeTarget } from "../../../dist/gateway/canonical-path.js";
import { closedLoop, consume, startInproc } from "../lib/inproc-ctx.mjs";

/** B1 (validate in process) and B2 (issuance in process vs the raw single-row-transaction floor). */

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** The gateway's per-request pure work, as the gateway pipeline (src/gateway/pipeline/) runs it (same functions, same order). */
export function pureValidate(matcher, token, target) {
  if (!isWellFormed(token, "an")) throw new Error("token rejected");
  const t = canonicalizeTarget(target);
  if ("error" in t) throw new Error(t.error);
  const key = tokenKey(token);
  if (!matcher.match("GET", t.segments)) throw new Error("scope rejected");
  return key;
}

export async function b1({ rounds, benchMs, dialects }) {
  const stores = [];
  for (const d of dialects) stores.push({ name: d.name, an: await startInproc(d) });
  try {
    const matcher = compileRoutes(["GET /v1/customers", "GET /v1/customers/{id}", "GET /v1/customers/search"]);
    const target = "/v1/customers/cus_9s8d7f6g5h4j3k2l?expand%5B%5D=default_source&limit=3";
    const nonces = [];
    for (const s of stores) nonces.push(tokenKey((await s.an.issue({ ttl: "6h" })).token));
    const token = (await stores[0].an.issue()).token;
    const out = { pure: [], consume: Object.fromEntries(stores.map((s) => [s.name, []])) };
    for (let r = 0; r < rounds; r++) {
      const bench = new Bench({ time: benchMs, warmupTime: Math.min(200, benchMs / 2) });
      bench.add("pure", () => pureValidate(matcher, token, target));
      stores.forEach((s, i) => {
        bench.add(`consume ${s.name}`, async () => {
          const res = await consume(s.an.ctx, nonces[i]);
          if (!res.ok) throw new Error(`consume rejected: ${res.reason}`);
        });
      });
      await bench.warmup();
      await bench.run();
      for (const t of bench.tasks) {
        if (t.result?.error) throw t.result.error;
        const med = median(t.result.samples) * 1000;
        if (t.name === "pure") out.pure.push(med);
        else out.consume[t.name.slice("consume ".length)].push(med);
      }
    }
    return out;
  } finally {
    for (const s of stores) await s.an.stop();
  }
}

/** The raw floor: one single-row INSERT transaction per call on the same database, same durability setting. */
async function floorFor(an) {
  if (an.sqliteFile) {
    const db = new Database(an.sqliteFile);
    db.pragma("busy_timeout = 5000");
    db.pragma(`synchronous = ${an.synchronous}`);
    db.exec("CREATE TABLE IF NOT EXISTS bench_floor (k INTEGER PRIMARY KEY, v BLOB NOT NULL)");
    const ins = db.prepare("INSERT INTO bench_floor (v) VALUES (?)");
    const one = db.transaction((v) => ins.run(v));
    const v = Buffer.alloc(32, 7);
    return { call: async () => one.immediate(v), close: async () => db.close() };
  }
  const pool = new pg.Pool({ connectionString: an.pgUrl, max: 10 });
  pool.on("error", () => undefined);
  await pool.query("CREATE TABLE IF NOT EXISTS bench_floor (k BIGSERIAL PRIMARY KEY, v BYTEA NOT NULL)");
  const v = Buffer.alloc(32, 7);
  return {
    call: async () => {
      await pool.query({ name: "floor", text: "INSERT INTO bench_floor (v) VALUES ($1)", values: [v] });
    },
    close: () => pool.end(),
  };
}

export async function b2({ rounds, seconds, dialects, concurrencies }) {
  const sys = [];
  for (const d of dialects) {
    const an = await startInproc(d);
    sys.push({ name: d.name, an, floor: await floorFor(an) });
  }
  const out = {};
  try {
    for (const s of sys) {
      // Warm-up: caches, prepared statements, page cache.
      await closedLoop(() => s.an.issue(), { concurrency: 8, seconds: Math.min(1, seconds) });
      await closedLoop(s.floor.call, { concurrency: 8, seconds: Math.min(1, seconds) });
    }
    for (let r = 0; r < rounds; r++) {
      for (const s of sys) {
        for (const c of concurrencies) {
          const key = `${s.name} c${c}`;
          out[key] ??= { issue: [], floor: [], issue_p50_us: [], issue_p99_us: [] };
          const a = await closedLoop(() => s.an.issue(), { concurrency: c, seconds });
          const f = await closedLoop(s.floor.call, { concurrency: c, seconds });
          out[key].issue.push(a.ops_per_s);
          out[key].issue_p50_us.push(a.p50_us);
          out[key].issue_p99_us.push(a.p99_us);
          out[key].floor.push(f.ops_per_s);
        }
      }
    }
    return out;
  } finally {
    for (const s of sys) {
      await s.floor.close();
      await s.an.stop();
    }
  }
}
