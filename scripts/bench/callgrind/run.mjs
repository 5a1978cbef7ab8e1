import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Instruction counts (valgrind callgrind: repeatable whatever else the machine is doing) of the gateway's store
 * path per request: `node scripts/bench/callgrind/run.mjs <root> [<root> …]`, each root a checkout built to dist/
 * (e.g. /work/main, or a `git worktree` of an older commit with node_modules linked and `tsc -p
 * tsconfig.build.json` run). Runs store-path.mjs under callgrind with 2,400 and 4,800 requests and prints the
 * difference per request, so start-up and JIT warm-up cancel out. Not part of `npm run bench`; needs valgrind.
 */
const HERE = path.dirname(fileURLToPath(import.meta.url));
const SCRIPT = path.join(HERE, "store-path.mjs");
const [lo, hi] = [2400, 4800];

function instructions(root, n) {
  const r = spawnSync(
    "valgrind",
    ["--tool=callgrind", "--callgrind-out-file=/dev/null", process.execPath, SCRIPT, root, String(n)],
    { encoding: "utf8" },
  );
  const m = /Collected : (\d+)/.exec(r.stderr ?? "");
  if (r.status !== 0 || !m) throw new Error(`callgrind run failed for ${root} (${n}):\n${r.stderr}`);
  return Number(m[1]);
}

for (const root of process.argv.slice(2)) {
  const counts = [lo, hi].map((n) => instructions(root, n));
  console.log(
    `${root}: ${Math.round((counts[1] - counts[0]) / (hi - lo)).toLocaleString("en")} instructions per request`,
  );
}
