import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { httpLoad } from "./lib/load.mjs";
import { LOAD_CPU, pinSelf, startPinned, stop } from "./lib/proc.mjs";
import { ISSUE_BODY } from "./lib/seed.mjs";
import { startPassthrough, startUpstream } from "./lib/targets.mjs";

/**
 * A/B of the gateway between commits, for tuning on a noisy machine: `node scripts/bench/ab.mjs
 * --commits=214c13f,. [--rounds=3] [--seconds=3] [--connections=32,1] [--node-flags="…"] [--what=gateway|issue] [--an='{"store":false}']`. "." is the working
 * tree (built with `npm run build` first); any other commit is checked out with `git worktree` under the temp dir
 * and built there (node_modules shared); an absolute path is taken as an already built tree (a diagnostic copy). Every build runs the bench's Agent Nonce server (SQLite, product
 * defaults) against one bench upstream, beside a direct call to the upstream and the lean pass-through (the budget's baseline), interleaved per round. Besides req/s and
 * p50/p99 it prints the server process's CPU time per request (utime+stime from /proc): on a shared machine that
 * moves far less than throughput, so it is the number to compare between builds. Not part of `npm run bench`.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const args = process.argv.slice(2);
const opt = (name, def) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? def;
const commits = opt("commits", ".").split(",");
const rounds = Number(opt("rounds", 3));
const seconds = Number(opt("seconds", 3));
const connections = opt("connections", "32,1").split(",").map(Number);
const nodeFlags = opt("node-flags", "").split(" ").filter(Boolean);
// gateway: GET through the gateway (beside the pass-through); issue: POST /v1/nonces on the control plane (B3).
const what = opt("what", "gateway");
// Extra options for servers/an.mjs, e.g. '{"store":false}' (the store-skipped diagnostic: every cost but the consume).
const anOpts = JSON.parse(opt("an", "{}"));

const git = (...a) => execFileSync("git", a, { cwd: ROOT, encoding: "utf8" }).trim();
const worktrees = [];

function tree(commit) {
  if (commit === ".") return { label: "working tree", dir: ROOT };
  // A directory holding a built tree (dist/ and scripts/): for diagnostic builds that are not commits.
  if (commit.startsWith("/")) return { label: path.basename(commit), dir: commit };
  const sha = git("rev-parse", "--short", commit);
  const dir = path.join(tmpdir(), `an-ab-${sha}`);
  if (!existsSync(dir)) {
    git("worktree", "add", "--detach", dir, sha);
    worktrees.push(dir);
    symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
    execFileSync(
      process.execPath,
      [path.join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"],
      {
        cwd: dir,
        stdio: "inherit",
      },
    );
  }
  return { label: sha, dir };
}

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

pinSelf(LOAD_CPU);
const up = await startUpstream();
// The gateway is compared with the budget's baseline, the lean pass-through (node:http in, undici dispatch out, no
// checks), and "added" latency is read against a direct call to the upstream (DESIGN.md "Performance budget").
const targets = [];
if (what === "gateway") {
  const lean = await startPassthrough(up.url, { lean: true });
  targets.push(["direct", up.pid, { url: `${up.url}/v1/items` }, async () => {}]);
  targets.push(["lean pass-through", lean.pid, { url: `${lean.url}/v1/items` }, () => lean.stop()]);
}
try {
  for (const c of commits) {
    const t = tree(c);
    const p = await startPinned(
      process.execPath,
      [
        ...nodeFlags,
        path.join(t.dir, "scripts/bench/servers/an.mjs"),
        JSON.stringify({ dialect: "sqlite", ...anOpts, upstream: up.url }),
      ],
      { ready: (l) => l.startsWith("READY ") && JSON.parse(l.slice(6)), timeoutMs: 60_000, name: t.label },
    );
    const req =
      what === "issue"
        ? {
            url: `${p.info.apiUrl}/v1/nonces`,
            method: "POST",
            headers: { authorization: `Bearer ${p.info.adminKey}`, "content-type": "application/json" },
            body: ISSUE_BODY,
          }
        : { url: `${p.info.gatewayUrl}/v1/items`, headers: { authorization: `Bearer ${p.info.nonce}` } };
    targets.push([`agent-nonce ${t.label}`, p.pid, req, () => stop(p.child, 15_000)]);
  }
  for (const [, , req] of targets) await httpLoad({ ...req, connections: 32, seconds: 2 });
  const out = {};
  for (let r = 0; r < rounds; r++) {
    for (const c of connections) {
      for (const [name, pid, req] of targets) {
        const before = cpuSeconds(pid);
        const res = await httpLoad({ ...req, connections: c, seconds });
        if (res.errors > 0) throw new Error(`${name}: ${res.errors} failed requests`);
        const us = ((cpuSeconds(pid) - before) / res.requests) * 1e6;
        const key = `${name} c${c}`;
        out[key] ??= [];
        out[key].push(
          `${us.toFixed(0)} µs cpu/req, ${Math.round(res.rps)}/s, p50 ${Math.round(res.p50_us)} p99 ${Math.round(res.p99_us)} µs`,
        );
      }
    }
    console.log(`round ${r + 1}/${rounds} done`);
  }
  for (const [k, v] of Object.entries(out)) console.log(`${k.padEnd(32)} ${v.join(" | ")}`);
} finally {
  for (const t of targets) await t[3]();
  await up.stop();
  for (const dir of worktrees) {
    try {
      git("worktree", "remove", "--force", dir);
    } catch {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
