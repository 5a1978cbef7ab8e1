import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, has, startPinned, stop } from "./proc.mjs";

/** The servers the HTTP workloads measure, each a child process pinned to the server CPU. */

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SERVERS = path.join(HERE, "..", "servers");
const readyJson = (line) => (line.startsWith("READY ") ? JSON.parse(line.slice(6)) : null);

export async function startUpstream() {
  const p = await startPinned(process.execPath, [path.join(SERVERS, "upstream.mjs")], {
    ready: readyJson,
    name: "upstream",
  });
  return { ...p, url: `http://127.0.0.1:${p.info.port}`, port: p.info.port, stop: () => stop(p.child) };
}

/**
 * `lean`: the dispatch-based pass-through (passthrough-lean.mjs) instead of the request()+pipeline one; `floor`: the
 * lean one plus a durable, hash-chained, group-committed append per request (passthrough-floor.mjs).
 */
export async function startPassthrough(upstreamUrl, { lean = false, floor = false } = {}) {
  const script = floor ? "passthrough-floor.mjs" : lean ? "passthrough-lean.mjs" : "passthrough.mjs";
  const p = await startPinned(process.execPath, [path.join(SERVERS, script), upstreamUrl], {
    ready: readyJson,
    name: floor ? "passthrough-floor" : lean ? "passthrough-lean" : "passthrough",
  });
  return { ...p, url: `http://127.0.0.1:${p.info.port}`, stop: () => stop(p.child) };
}

/** opts: { dialect, synchronous, audit }; nodeFlags: extra flags for node (the profiler passes --cpu-prof). */
export async function startAgentNonce(opts, upstreamUrl, nodeFlags = []) {
  const p = await startPinned(
    process.execPath,
    [...nodeFlags, path.join(SERVERS, "an.mjs"), JSON.stringify({ ...opts, upstream: upstreamUrl })],
    {
      ready: readyJson,
      name: `agent-nonce ${opts.dialect}`,
      timeoutMs: 60_000,
    },
  );
  return { ...p, ...p.info, stop: () => stop(p.child, 15_000) };
}

/** nginx as a reverse proxy that injects a static header: one worker, no master, upstream keep-alive. */
export async function startNginx(upstreamPort) {
  if (!has("nginx") && !has("/usr/sbin/nginx")) return null;
  const bin = has("nginx") ? "nginx" : "/usr/sbin/nginx";
  const dir = mkdtempSync(path.join(tmpdir(), "an-bench-nginx-"));
  const port = await freePort();
  const conf = `worker_processes 1;
master_process off;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
  upstream up { server 127.0.0.1:${upstreamPort}; keepalive 128; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "Bearer static-bench-credential";
      proxy_buffering off;
    }
  }
}
`;
  writeFileSync(path.join(dir, "nginx.conf"), conf);
  const p = await startPinned(bin, ["-p", dir, "-c", path.join(dir, "nginx.conf")], { name: "nginx" });
  // No readiness line from nginx: wait until it answers.
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 50; i++) {
    try {
      await fetch(`${url}/v1/items`);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    ...p,
    url,
    stop: async () => {
      await stop(p.child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A private redis-server (no persistence) pinned like the other servers; null when redis-server is missing. */
export async function startRedis() {
  if (!has("redis-server")) return null;
  const port = await freePort();
  const p = await startPinned(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no"],
    { ready: (l) => /Ready to accept connections/.test(l), name: "redis-server" },
  );
  return { ...p, port, stop: () => stop(p.child) };
}
