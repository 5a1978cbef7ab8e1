import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { httpLoad } from "./lib/load.mjs";
import { LOAD_CPU, pinSelf } from "./lib/proc.mjs";
import { ISSUE_BODY } from "./lib/seed.mjs";
import { startAgentNonce, startUpstream } from "./lib/targets.mjs";

/**
 * CPU profile of the gateway (or issuance) under load: `node scripts/bench/profile.mjs [gateway|issue]
 * [--seconds=10] [--connections=32] [--dialect=sqlite] [--an='{"store":false}']`. Starts the bench upstream and Agent Nonce
 * (dist/, pinned to the server CPU) with --cpu-prof, drives it with the bench generator, stops it and prints the
 * functions with the most self time and the most total time. Needs `npm run build` first. The .cpuprofile is kept
 * (its path is printed) for Chrome DevTools or speedscope.
 */

const args = process.argv.slice(2);
const opt = (name, def) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? def;
const what = args.find((a) => !a.startsWith("--")) ?? "gateway";
const seconds = Number(opt("seconds", 10));
const connections = Number(opt("connections", 32));
const dialect = opt("dialect", "sqlite");
const top = Number(opt("top", 30));
// Extra options for servers/an.mjs, e.g. '{"store":false}' (the store-skipped diagnostic).
const anOpts = JSON.parse(opt("an", "{}"));

pinSelf(LOAD_CPU);
const dir = mkdtempSync(path.join(tmpdir(), "an-prof-"));
const up = await startUpstream();
const an = await startAgentNonce({ dialect, ...anOpts }, up.url, ["--cpu-prof", `--cpu-prof-dir=${dir}`]);
const req =
  what === "issue"
    ? {
        url: `${an.apiUrl}/v1/nonces`,
        method: "POST",
        headers: { authorization: `Bearer ${an.adminKey}`, "content-type": "application/json" },
        body: ISSUE_BODY,
      }
    : { url: `${an.gatewayUrl}/v1/items`, headers: { authorization: `Bearer ${an.nonce}` } };
await httpLoad({ ...req, connections, seconds: 2 });
const res = await httpLoad({ ...req, connections, seconds });
await an.stop();
await up.stop();
console.log(
  `${what}: ${Math.round(res.rps)} req/s at ${connections} connections; p50 ${res.p50_us} µs, p99 ${res.p99_us} µs; errors ${res.errors}`,
);

const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
if (!file) throw new Error(`no profile written under ${dir}`);
const prof = JSON.parse(readFileSync(path.join(dir, file), "utf8"));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const dt = new Map();
for (let i = 0; i < prof.samples.length; i++)
  dt.set(prof.samples[i], (dt.get(prof.samples[i]) ?? 0) + (prof.timeDeltas[i] ?? 0));
const label = (n) => {
  const f = n.callFrame;
  const url = f.url.replace(/^file:\/\//, "").replace(`${process.cwd()}/`, "");
  return `${f.functionName || "(anonymous)"} ${url ? `${url.split("node_modules/").pop()}:${f.lineNumber + 1}` : ""}`.trim();
};
const self = new Map();
const total = new Map();
let all = 0;
for (const [id, us] of dt) {
  all += us;
  const n = byId.get(id);
  self.set(label(n), (self.get(label(n)) ?? 0) + us);
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur));
    if (seen.has(l)) continue;
    seen.add(l);
    total.set(l, (total.get(l) ?? 0) + us);
  }
}
const pct = (us) => `${((100 * us) / all).toFixed(1).padStart(5)}%`;
const print = (title, m) => {
  console.log(`\n${title}`);
  for (const [l, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}  ${l}`);
};
print("self time", self);
print("total time", total);
console.log(`\nprofile: ${path.join(dir, file)}`);
