import { execSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { b3, b4, b5, b6 } from "./http-workloads.mjs";
import { generatorName, useUndiciGenerator } from "./lib/load.mjs";
import { dropStaleBenchDatabases, pgReachable } from "./lib/pg.mjs";
import { ensureDebianPackages, has, LOAD_CPU, pinSelf, runPinned, SERVER_CPU } from "./lib/proc.mjs";
import { writeReport } from "./report.mjs";

const HISTORY_MARKER = "<!-- tuning history: hand-written, kept across runs -->";

/**
 * `npm run bench` (full, ~15 min) and `npm run bench:smoke` (seconds; CI). Runs every workload with its
 * baselines in the same run, interleaved rounds, and writes bench-results/<stamp>.json and docs/BENCHMARKS.md
 * (the smoke run writes only bench-results/smoke-*.json). Options: --smoke, --only=B1,B4, --rounds=N,
 * --seconds=S, --no-10m (skip the 10 M-row SQLite store).
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const args = process.argv.slice(2);
const flag = (name) => args.includes(`--${name}`);
const opt = (name, def) => {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : def;
};
const smoke = flag("smoke");
const only = opt("only", "B1,B2,B3,B4,B5,B6,B7").split(",");
const started = Date.now();
const log = (m) => console.log(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${m}`);

const cfg = {
  smoke,
  rounds: Number(opt("rounds", smoke ? 1 : 5)),
  seconds: Number(opt("seconds", smoke ? 0.3 : 3)),
  warmup: smoke ? 0.2 : 2,
  inprocSeconds: smoke ? 0.2 : 2,
  benchMs: smoke ? 100 : 500,
  ttfbRequests: smoke ? 10 : 200,
  b5WarmupSeconds: smoke ? 0 : 150,
  redisRate: { 1: smoke ? 2_000 : 15_000, 32: smoke ? 10_000 : 60_000 },
  sqliteSizes: smoke ? [0, 5_000] : flag("no-10m") ? [0, 1_000_000] : [0, 1_000_000, 10_000_000],
  pgSizes: smoke ? [0, 5_000] : [0, 1_000_000],
  cleanupRows: smoke ? 2_000 : 200_000,
  pg: false,
  nginx: false,
};

function buildIfStale() {
  const dist = path.join(ROOT, "dist", "server.js");
  const newest = (dir) => {
    let t = 0;
    for (const e of execSync(`find ${dir} -name '*.ts' -newer ${dist}`, { encoding: "utf8" }).split("\n")) if (e) t++;
    return t;
  };
  if (existsSync(dist) && statSync(dist).isFile() && newest(path.join(ROOT, "src")) === 0) return;
  log("dist/ is missing or older than src/: npm run build");
  const r = spawnSync("npm", ["run", "build", "--silent"], { cwd: ROOT, stdio: "inherit" });
  if (r.status !== 0) throw new Error("npm run build failed");
}

function machine() {
  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? os.cpus()[0]?.model;
  const sh = (c) => {
    try {
      return execSync(c, { encoding: "utf8" }).trim();
    } catch {
      return "n/a";
    }
  };
  return {
    nproc: sh("nproc --all"),
    cpu,
    memory_gib: (os.totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    kernel: sh("uname -sr"),
    sqlite: sh(
      `node -e "const D=require('better-sqlite3');console.log(new D(':memory:').prepare('select sqlite_version() v').get().v)"`,
    ),
    postgres: sh("psql -h 127.0.0.1 -U postgres -d test -Atc 'show server_version' 2>/dev/null"),
    wrk: has("wrk") ? sh("wrk -v 2>&1 | head -1 | cut -d' ' -f1-2") : "wrk not installed",
    nginx:
      has("nginx") || existsSync("/usr/sbin/nginx")
        ? sh("/usr/sbin/nginx -v 2>&1 | sed 's/^nginx version: //'")
        : "nginx not installed",
    git: sh("git rev-parse --short HEAD"),
    dirty_src_files: sh("git status --porcelain -- src | wc -l"),
    redis: has("redis-server") ? sh("redis-server --version | cut -d' ' -f1-3") : "redis not installed",
  };
}

async function inproc(name, opts) {
  const worker = path.join(ROOT, "scripts", "bench", "inproc", "worker.mjs");
  const out = await runPinned(process.execPath, [worker, name, JSON.stringify(opts)], {
    cpu: SERVER_CPU,
    timeoutMs: 3_600_000,
  });
  const line = out.split("\n").find((l) => l.startsWith("RESULT "));
  if (!line) throw new Error(`${name}: worker printed no result`);
  return JSON.parse(line.slice(7));
}

async function main() {
  process.chdir(ROOT);
  const command = `npm run ${smoke ? "bench:smoke" : "bench"}${args
    .filter((a) => a !== "--smoke")
    .map((a) => ` ${a}`)
    .join("")}`;
  if (smoke) {
    useUndiciGenerator(true);
    log("smoke: 1 round, sub-second runs, in-process undici generator, no package installs");
  } else {
    ensureDebianPackages([
      { bin: "wrk", pkg: "wrk" },
      { bin: "/usr/sbin/nginx", pkg: "nginx-light" },
      { bin: "redis-benchmark", pkg: "redis-tools" },
      { bin: "redis-server", pkg: "redis-server" },
    ]);
    buildIfStale();
  }
  if (smoke) buildIfStale();
  if (!pinSelf(LOAD_CPU)) log("taskset unavailable: processes are NOT pinned");
  cfg.pg = await pgReachable();
  if (!cfg.pg) log("PostgreSQL at 127.0.0.1:5432 unreachable: SKIPPING every PostgreSQL variant");
  else if ((await dropStaleBenchDatabases()) > 0) log("dropped stale an_bench_* databases from an earlier run");
  cfg.nginx = has("nginx") || existsSync("/usr/sbin/nginx");
  if (cfg.nginx && !has("nginx")) process.env.PATH = `${process.env.PATH}:/usr/sbin`;
  log(`generator: ${generatorName()}; servers on CPU ${SERVER_CPU}, generator on CPU ${LOAD_CPU}`);

  const results = {
    machine: machine(),
    command,
    date: new Date().toISOString(),
    cfg,
    generator: generatorName(),
    workloads: {},
    errors: {},
  };
  const sqliteDialects = [
    { name: "sqlite NORMAL", dialect: "sqlite", synchronous: "NORMAL" },
    { name: "sqlite FULL", dialect: "sqlite", synchronous: "FULL" },
  ];
  const dialects = cfg.pg ? [...sqliteDialects, { name: "postgres", dialect: "postgres" }] : sqliteDialects;
  const jobs = {
    B1: () => inproc("b1", { rounds: cfg.rounds, benchMs: cfg.benchMs, dialects }),
    B2: () => inproc("b2", { rounds: cfg.rounds, seconds: cfg.inprocSeconds, dialects, concurrencies: [1, 32] }),
    B3: () => b3(cfg, log),
    B4: () => b4(cfg, log),
    B5: () => b5(cfg, log),
    B6: () => b6(cfg, log),
    B7: async () => {
      const opts = { rounds: cfg.rounds, seconds: cfg.inprocSeconds, cleanupRows: cfg.cleanupRows };
      const sqlite = () => inproc("b7", { ...opts, dialect: "sqlite", sizes: cfg.sqliteSizes });
      const postgres = () => (cfg.pg ? inproc("b7", { ...opts, dialect: "postgres", sizes: cfg.pgSizes }) : null);
      // The smoke run only proves the code path works: both dialects at once to stay within seconds.
      const [sq, pg] = smoke ? await Promise.all([sqlite(), postgres()]) : [await sqlite(), await postgres()];
      return pg ? { sqlite: sq, postgres: pg } : { sqlite: sq };
    },
  };
  for (const [name, job] of Object.entries(jobs)) {
    if (!only.includes(name)) continue;
    log(`${name} start`);
    try {
      results.workloads[name] = await job();
      log(`${name} done`);
    } catch (e) {
      results.errors[name] = String(e?.stack ?? e);
      log(`${name} FAILED: ${e?.message ?? e}`);
    }
  }
  results.seconds = (Date.now() - started) / 1000;
  mkdirSync(path.join(ROOT, "bench-results"), { recursive: true });
  const stamp = results.date.replace(/[:.]/g, "-");
  const jsonFile = path.join(ROOT, "bench-results", `${smoke ? "smoke-" : ""}${stamp}.json`);
  writeFileSync(jsonFile, `${JSON.stringify(results, null, 2)}\n`);
  log(`raw results: ${path.relative(ROOT, jsonFile)}`);
  const md = writeReport(results);
  if (!smoke && only.length === 7) {
    // Everything from the history marker on is hand-written (before/after of each tuning step) and kept.
    const docFile = path.join(ROOT, "docs", "BENCHMARKS.md");
    const previous = existsSync(docFile) ? readFileSync(docFile, "utf8") : "";
    const at = previous.indexOf(HISTORY_MARKER);
    writeFileSync(docFile, at === -1 ? md : `${md.trimEnd()}\n\n${previous.slice(at)}`);
    log("wrote docs/BENCHMARKS.md");
  } else {
    writeFileSync(path.join(ROOT, "bench-results", `${smoke ? "smoke-" : "partial-"}${stamp}.md`), md);
    log("report written under bench-results/ (docs/BENCHMARKS.md only from a full run)");
  }
  const failed = Object.keys(results.errors);
  if (failed.length > 0) {
    console.error(`[bench] FAILED workloads: ${failed.join(", ")}`);
    process.exit(1);
  }
  log(`finished in ${results.seconds.toFixed(0)} s`);
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
