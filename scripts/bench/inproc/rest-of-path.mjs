import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Issue 17, "the rest of the path": what one gateway request spends in credential injection, the scrubber and the
 * header work, in process, compared between builds in one run: `node scripts/bench/inproc/rest-of-path.mjs
 * [--trees=/abs/a,/abs/b] [--rounds=7] [--ms=300]` (each tree a directory holding a built `dist/`; default this
 * one). Rounds interleave the trees and tasks, so machine load hits them alike; it prints the median ns per
 * operation over rounds, and each tree's ratio to the first. A tree with gateway/credential-cache.js injects
 * through it (what handle.ts does), others open + injectCredential on every request.
 * Tasks: `inject` (decrypt or cache hit, header value, scrub needles), `relay small` (scrubber for one response:
 * construction, three response header values, an 80-byte JSON body), `request headers` (carrier + allowlist:
 * the bench client's six lower-case headers; `SDK headers`: an official SDK's fourteen Title-Case ones),
 * `1 MiB` (the scrubber over a 1 MiB JSON body in 16 KiB chunks, reported per KiB).
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const args = process.argv.slice(2);
const opt = (name, def) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? def;
const trees = opt("trees", ROOT).split(",");
const rounds = Number(opt("rounds", 7));
const ms = Number(opt("ms", 300));

const secret = Buffer.from(`sk_test_FAKE_${randomBytes(12).toString("hex")}`);
const small = Buffer.from(JSON.stringify({ object: "list", data: [{ id: "item_1", name: "bench" }], has_more: false }));
const row = '{"id":"item_000000","object":"item","description":"lorem ipsum dolor sit amet, bench payload"},';
const big = Buffer.alloc(1 << 20, row);
const raw = [
  ...["host", "127.0.0.1:8080", "connection", "keep-alive", "authorization", `Bearer an_${"x".repeat(40)}`],
  ...["user-agent", "bench/1.0", "accept", "application/json", "accept-encoding", "gzip, deflate, br"],
];
// What an official SDK sends (Title-Case names, several dropped): the OpenAI Python SDK's request head.
const sdk = [
  ...["Host", "127.0.0.1:8080", "Accept-Encoding", "gzip, deflate", "Connection", "keep-alive"],
  ...["Accept", "application/json", "Content-Type", "application/json", "User-Agent", "OpenAI/Python 1.40.0"],
  ...["X-Stainless-Lang", "python", "X-Stainless-Package-Version", "1.40.0", "X-Stainless-OS", "Linux"],
  ...["X-Stainless-Arch", "x64", "X-Stainless-Runtime", "CPython", "X-Stainless-Retry-Count", "0"],
  ...["Authorization", `Bearer an_${"x".repeat(40)}`, "Content-Length", "120"],
];
const respValues = ["application/json", "80", new Date().toUTCString()];

async function load(dir) {
  const d = path.join(dir, "dist");
  const crypto = await import(path.join(d, "core/crypto.js"));
  const inject = await import(path.join(d, "gateway/inject.js"));
  const scrub = await import(path.join(d, "gateway/scrub.js"));
  const headers = await import(path.join(d, "gateway/headers.js"));
  const carrier = await import(path.join(d, "gateway/credentials-carrier.js"));
  const cachePath = path.join(d, "gateway/credential-cache.js");
  const keys = { current: 1, keys: new Map([[1, randomBytes(32)]]) };
  const service = { name: "bench", auth: { type: "bearer" }, credential: crypto.seal(keys, "bench", secret) };
  let injectOnce;
  if (existsSync(cachePath)) {
    const { CredentialCache } = await import(cachePath);
    const cache = new CredentialCache({ now: () => 0 }, { sweepEveryMs: 0 });
    injectOnce = () => cache.inject(keys, service, {}, "");
  } else {
    injectOnce = () => {
      const s = crypto.open(keys, "bench", service.credential);
      try {
        return inject.injectCredential(service.auth, s, {}, "");
      } finally {
        s.fill(0);
      }
    };
  }
  const needles = injectOnce().needles;
  return {
    inject: () => scrub.wipeNeedles(injectOnce().needles),
    "relay small": () => {
      const s = new scrub.Scrubber(needles);
      for (const v of respValues) if (s.leaks(v)) throw new Error("unexpected leak");
      s.push(small);
      s.end();
    },
    "request headers": () => {
      carrier.extractNonce(raw);
      headers.filterRequestHeaders(raw);
    },
    "SDK headers": () => {
      carrier.extractNonce(sdk);
      headers.filterRequestHeaders(sdk);
    },
    "1 MiB": () => {
      const s = new scrub.Scrubber(needles);
      for (let o = 0; o < big.length; o += 16384) s.push(big.subarray(o, o + 16384));
      s.end();
    },
  };
}

/**
 * CPU ns per call of f (process.cpuUsage, not wall time: on a loaded machine the wall clock also counts the time
 * this process waited for a core), run for about `ms` of wall time.
 */
function time(f) {
  let n = 0;
  const c0 = process.cpuUsage();
  const until = performance.now() + ms;
  while (performance.now() < until) {
    for (let i = 0; i < 16; i++) f();
    n += 16;
  }
  const c = process.cpuUsage(c0);
  return ((c.user + c.system) * 1000) / n;
}

const loaded = [];
for (const dir of trees) loaded.push({ label: path.basename(dir), tasks: await load(dir) });
const names = Object.keys(loaded[0].tasks);
const results = {};
for (let r = 0; r < rounds; r++) {
  for (const name of names) {
    const order = r % 2 === 0 ? loaded : [...loaded].reverse();
    for (const t of order) {
      const ns = time(t.tasks[name]);
      const key = `${name}\t${t.label}`;
      results[key] ??= [];
      results[key].push(name === "1 MiB" ? ns / 1024 : ns);
    }
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(`node ${process.version}, ${rounds} rounds × ${ms} ms; median CPU ns per operation (1 MiB: per KiB)`);
for (const name of names) {
  const first = median(results[`${name}\t${loaded[0].label}`]);
  for (const t of loaded) {
    const m = median(results[`${name}\t${t.label}`]);
    console.log(`${name.padEnd(16)} ${t.label.padEnd(20)} ${m.toFixed(0).padStart(9)} ns  ${(m / first).toFixed(2)}×`);
  }
}
