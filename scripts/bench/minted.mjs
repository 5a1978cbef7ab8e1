import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Agent, request } from "undici";

/**
 * Dynamic credentials: what minting costs and what a cached minted credential adds per request, against a static
 * bearer key on the same upstream. `npm run build && node scripts/bench/minted.mjs [--n=2000] [--fresh=60]`.
 * Everything in one process on loopback (server from dist/, SQLite in a temp dir, a fake GitHub that mints
 * installation tokens without verifying the JWT, so the figure is the gateway's side: RS256 App JWT, the mint
 * round trip, the sealed root opened, `credential.minted` appended). Sequential requests at 1 connection; medians
 * and p90 in ms. Not a timed test: numbers move with the machine, compare within one run.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const args = process.argv.slice(2);
const opt = (name, def) => Number(args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? def);
const N = opt("n", 2000);
const FRESH = opt("fresh", 60);

const { startServer } = await import(path.join(ROOT, "dist/server.js"));
const { loadConfig } = await import(path.join(ROOT, "dist/config.js"));
const { createLogger } = await import(path.join(ROOT, "dist/app/logger.js"));

// Fake GitHub + a plain API answering one small JSON body.
const BODY = JSON.stringify([{ number: 1, title: "First issue" }]);
const upstream = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    if (req.method === "POST" && req.url?.endsWith("/access_tokens")) {
      const text = JSON.stringify({
        token: `ghs_FAKE${randomBytes(18).toString("hex")}`,
        expires_at: new Date(Date.now() + 3_600_000).toISOString(),
        repositories: [{ full_name: "octo-org/api" }],
      });
      res.writeHead(201, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
      return res.end(text);
    }
    if (req.method === "DELETE") {
      res.writeHead(204);
      return res.end();
    }
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(BODY) });
    res.end(BODY);
  });
});
await new Promise((r) => upstream.listen(0, "127.0.0.1", r));
const up = `http://127.0.0.1:${upstream.address().port}`;

const dataDir = mkdtempSync(path.join(tmpdir(), "an-bench-minted-"));
const config = loadConfig({ flags: { dataDir, apiPort: 0, gatewayPort: 0, logLevel: "silent" } });
const server = await startServer(config, { log: createLogger("silent") });
// A fresh data dir: the server generated the admin key on this start.
const admin = server.adminKey;
const api = async (method, p, body) => {
  const r = await request(`${server.apiUrl}${p}`, {
    method,
    headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.body.text();
  if (r.statusCode >= 300) throw new Error(`${method} ${p}: ${r.statusCode} ${text}`);
  return text ? JSON.parse(text) : null;
};

const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
await api("PUT", "/v1/services/gh", {
  template: "github",
  upstream: up,
  insecure_upstream: true,
  auth: { type: "github_app", app_id: "1", installation_id: "2" },
});
await api("PUT", "/v1/services/gh/credential", { private_key: privateKey.export({ type: "pkcs1", format: "pem" }) });
await api("PUT", "/v1/services/static", { template: "github", upstream: up, insecure_upstream: true });
await api("PUT", "/v1/services/static/credential", { secret: `ghp_FAKE_${randomBytes(12).toString("hex")}` });

const issue = (service, extra = {}) =>
  api("POST", "/v1/nonces", { service, scope: "issues:read", agent: "bench", ttl: "1h", ...extra });
const dispatcher = new Agent({ connections: 1, pipelining: 1 });
const PATH = "/repos/octo-org/api/issues";
async function timed(nonce) {
  const t = performance.now();
  const r = await request(`${server.gatewayUrl}${PATH}`, { headers: { authorization: `token ${nonce}` }, dispatcher });
  await r.body.dump();
  if (r.statusCode !== 200) throw new Error(`gateway answered ${r.statusCode}`);
  return performance.now() - t;
}
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { p50: +q(0.5).toFixed(3), p90: +q(0.9).toFixed(3), n: s.length };
};

const ghNonce = (await issue("gh", { github: { repositories: ["octo-org/api"] } })).nonce;
const staticNonce = (await issue("static")).nonce;
for (let i = 0; i < 200; i++) {
  await timed(ghNonce);
  await timed(staticNonce);
}
// Interleaved, so drift on a shared machine hits both alike.
const cached = [];
const plain = [];
for (let i = 0; i < N; i++) {
  cached.push(await timed(ghNonce));
  plain.push(await timed(staticNonce));
}
const first = [];
const second = [];
for (let i = 0; i < FRESH; i++) {
  const n = (await issue("gh", { github: { repositories: ["octo-org/api"] } })).nonce;
  first.push(await timed(n));
  second.push(await timed(n));
}
const s = {
  static: stats(plain),
  github_app_cached: stats(cached),
  github_app_first_use: stats(first),
  github_app_second_use: stats(second),
};
console.log(JSON.stringify(s, null, 2));
console.log(
  `cached minted credential vs static key, p50: +${(s.github_app_cached.p50 - s.static.p50).toFixed(3)} ms; ` +
    `mint on first use (first - second request of a fresh nonce), p50: ${(s.github_app_first_use.p50 - s.github_app_second_use.p50).toFixed(3)} ms`,
);
await server.close();
await dispatcher.close();
upstream.close();
rmSync(dataDir, { recursive: true, force: true });
