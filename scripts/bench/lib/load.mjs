import path from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "undici";
import { has, LOAD_CPU, runPinned } from "./proc.mjs";
import { percentile } from "./stats.mjs";

/**
 * Load generators. wrk (Debian) with a Lua script is the default: microsecond latency percentiles from its
 * done() hook, one thread pinned to the load CPU. The undici closed-loop generator (one connection per worker,
 * latencies in µs from hrtime) is the fallback when wrk is missing, and what the smoke run may use.
 */

const LUA = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "wrk", "request.lua");

let forceUndici = false;
export function useUndiciGenerator(on) {
  forceUndici = on;
}
export function generatorName() {
  return !forceUndici && has("wrk") ? "wrk" : "undici";
}

/**
 * One closed-loop run: `connections` connections, each sending the next request when the previous answer is
 * complete. Returns requests/s and latency percentiles in µs; `errors` counts non-2xx answers and socket errors.
 */
export async function httpLoad({ url, method = "GET", headers = {}, body = "", connections, seconds }) {
  if (generatorName() === "wrk") return wrk({ url, method, headers, body, connections, seconds });
  return undiciLoad({ url, method, headers, body, connections, seconds });
}

async function wrk({ url, method, headers, body, connections, seconds }) {
  const env = {
    WRK_METHOD: method,
    WRK_BODY: body,
    WRK_HEADERS: Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}`)
      .join("\n"),
  };
  const args = [
    "-t1",
    `-c${connections}`,
    `-d${Math.max(1, Math.round(seconds))}s`,
    "--timeout",
    "10s",
    "-s",
    LUA,
    url,
  ];
  const out = await runPinned("wrk", args, { cpu: LOAD_CPU, env, timeoutMs: (seconds + 60) * 1000 });
  const line = out.split("\n").find((l) => l.startsWith("WRK_JSON "));
  if (!line) throw new Error(`wrk printed no summary:\n${out}`);
  const r = JSON.parse(line.slice("WRK_JSON ".length));
  const errors = r.connect_errors + r.read_errors + r.write_errors + r.status_errors + r.timeouts;
  return {
    generator: "wrk",
    requests: r.requests,
    rps: r.requests / (r.duration_us / 1e6),
    p50_us: r.p50_us,
    p90_us: r.p90_us,
    p99_us: r.p99_us,
    mean_us: r.mean_us,
    errors,
    mb_per_s: r.bytes / (r.duration_us / 1e6) / 1e6,
  };
}

async function undiciLoad({ url, method, headers, body, connections, seconds }) {
  const u = new URL(url);
  const lat = [];
  let errors = 0;
  let bytes = 0;
  const end = performance.now() + seconds * 1000;
  const worker = async () => {
    const client = new Client(u.origin, { pipelining: 1, keepAliveTimeout: 30_000 });
    try {
      while (performance.now() < end) {
        const t0 = process.hrtime.bigint();
        try {
          const r = await client.request({ path: u.pathname + u.search, method, headers, body: body || undefined });
          for await (const chunk of r.body) bytes += chunk.length;
          if (r.statusCode >= 400) errors += 1;
        } catch {
          errors += 1;
        }
        lat.push(Number(process.hrtime.bigint() - t0) / 1000);
      }
    } finally {
      await client.close().catch(() => undefined);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: connections }, worker));
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return {
    generator: "undici",
    requests: lat.length,
    rps: lat.length / secs,
    p50_us: percentile(lat, 50),
    p90_us: percentile(lat, 90),
    p99_us: percentile(lat, 99),
    mean_us: lat.reduce((a, b) => a + b, 0) / Math.max(1, lat.length),
    errors,
    mb_per_s: bytes / secs / 1e6,
  };
}

/** redis-benchmark `SET key value EX 300` (random keys, no pipelining), pinned to the load CPU. */
export async function redisSet({ port, connections, requests }) {
  const args = ["-h", "127.0.0.1", "-p", String(port), "-c", String(connections), "-n", String(requests)];
  args.push("-r", "10000000", "--csv", "SET", "bench:__rand_int__", "nonce-sized-value-0123456789", "EX", "300");
  const out = await runPinned("redis-benchmark", args, { cpu: LOAD_CPU, timeoutMs: 300_000 });
  const rows = out
    .trim()
    .split("\n")
    .map((l) => l.split(",").map((c) => c.replace(/^"|"$/g, "")));
  const head = rows.find((r) => r[0] === "test");
  const data = rows.find((r) => r[0] !== "test" && r.length > 3);
  if (!head || !data) throw new Error(`unexpected redis-benchmark output:\n${out}`);
  const col = (name) => Number(data[head.indexOf(name)]);
  return {
    generator: "redis-benchmark",
    requests,
    rps: col("rps"),
    p50_us: col("p50_latency_ms") * 1000,
    p99_us: col("p99_latency_ms") * 1000,
    mean_us: col("avg_latency_ms") * 1000,
    errors: 0,
  };
}
