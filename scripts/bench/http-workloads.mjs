import { Client } from "undici";
import { httpLoad, redisSet } from "./lib/load.mjs";
import { has, rssKiB } from "./lib/proc.mjs";
import { ISSUE_BODY } from "./lib/seed.mjs";
import { median } from "./lib/stats.mjs";
import { startAgentNonce, startNginx, startPassthrough, startRedis, startUpstream } from "./lib/targets.mjs";

/** B3–B6: the workloads over real sockets, every variant measured in the same rounds, interleaved. */

function checked(name, r) {
  if (r.errors > 0) throw new Error(`${name}: ${r.errors} failed requests out of ${r.requests}`);
  if (r.requests === 0) throw new Error(`${name}: no request completed`);
  return r;
}

const issueReq = (an) => ({
  url: `${an.apiUrl}/v1/nonces`,
  method: "POST",
  headers: { authorization: `Bearer ${an.adminKey}`, "content-type": "application/json" },
  body: ISSUE_BODY,
});
const gwReq = (an, p = "/v1/items") => ({ url: an.gatewayUrl + p, headers: { authorization: `Bearer ${an.nonce}` } });

function push(obj, key, field, value) {
  obj[key] ??= {};
  obj[key][field] ??= [];
  obj[key][field].push(value);
}

export async function b3(cfg, log) {
  const up = await startUpstream();
  const systems = await Promise.all(
    (cfg.pg ? ["sqlite", "postgres"] : ["sqlite"]).map(async (d) => [
      `agent-nonce ${d}`,
      await startAgentNonce({ dialect: d }, up.url),
    ]),
  );
  const redis = has("redis-benchmark") ? await startRedis() : null;
  if (!redis) log("B3: redis-server/redis-benchmark not available: SKIPPING the Redis SET … EX reference");
  const out = {};
  try {
    for (const [, an] of systems) await httpLoad({ ...issueReq(an), connections: 32, seconds: cfg.warmup });
    for (let r = 0; r < cfg.rounds; r++) {
      for (const c of [1, 32]) {
        for (const [name, an] of systems) {
          const res = checked(name, await httpLoad({ ...issueReq(an), connections: c, seconds: cfg.seconds }));
          push(out, `${name} c${c}`, "rps", res.rps);
          push(out, `${name} c${c}`, "p50_us", res.p50_us);
          push(out, `${name} c${c}`, "p99_us", res.p99_us);
        }
        if (redis) {
          const res = await redisSet({
            port: redis.port,
            connections: c,
            requests: Math.round(cfg.redisRate[c] * cfg.seconds),
          });
          push(out, `redis SET EX c${c}`, "rps", res.rps);
          push(out, `redis SET EX c${c}`, "p50_us", res.p50_us);
          push(out, `redis SET EX c${c}`, "p99_us", res.p99_us);
        }
      }
      log(`B3 round ${r + 1}/${cfg.rounds} done`);
    }
    return out;
  } finally {
    for (const [, an] of systems) await an.stop();
    await redis?.stop();
    await up.stop();
  }
}

async function gatewayTargets(cfg, log, up, anOpts = { dialect: "sqlite" }) {
  const [pass, nginx, an] = await Promise.all([
    startPassthrough(up.url),
    cfg.nginx ? startNginx(up.port) : null,
    startAgentNonce(anOpts, up.url),
  ]);
  if (!nginx) log("B4/B5: nginx is not installed: SKIPPING the nginx baseline");
  const targets = [
    ["direct", (p) => ({ url: up.url + p })],
    ["node pass-through", (p) => ({ url: pass.url + p })],
  ];
  if (nginx) targets.push(["nginx", (p) => ({ url: nginx.url + p })]);
  targets.push(["agent-nonce", (p) => gwReq(an, p)]);
  return { targets, an, stopAll: async () => Promise.all([pass.stop(), nginx?.stop(), an.stop()]) };
}

/**
 * B4 adds four diagnostic variants to the shared targets: the dispatch-based pass-through (the technique the
 * gateway's relay uses; the budget's baseline), that pass-through plus one durable, hash-chained, group-committed
 * append per request before forwarding (DESIGN.md's physical floor: servers/passthrough-floor.mjs), Agent Nonce with the audit rows discarded (what storing
 * the audit rows costs on this path) and Agent Nonce with its store writes skipped (every part of a gateway
 * request except the durable, audited consume; see servers/an.mjs). The target ratio stays against the bench's
 * request()+pipeline floor.
 */
export async function b4(cfg, log) {
  const up = await startUpstream();
  const { targets, stopAll } = await gatewayTargets(cfg, log, up);
  const [lean, floor, anOff, anNoStore] = await Promise.all([
    startPassthrough(up.url, { lean: true }),
    startPassthrough(up.url, { floor: true }),
    startAgentNonce({ dialect: "sqlite", audit: false }, up.url),
    startAgentNonce({ dialect: "sqlite", store: false }, up.url),
  ]);
  targets.splice(2, 0, ["node pass-through (dispatch)", (p) => ({ url: lean.url + p })]);
  targets.splice(3, 0, ["node pass-through (dispatch) + durable append", (p) => ({ url: floor.url + p })]);
  targets.push(["agent-nonce, audit rows off", (p) => gwReq(anOff, p)]);
  targets.push(["agent-nonce, store skipped", (p) => gwReq(anNoStore, p)]);
  const out = {};
  try {
    for (const [, req] of targets) await httpLoad({ ...req("/v1/items"), connections: 32, seconds: cfg.warmup });
    for (let r = 0; r < cfg.rounds; r++) {
      for (const [name, req] of targets) {
        const res = checked(name, await httpLoad({ ...req("/v1/items"), connections: 32, seconds: cfg.seconds }));
        push(out, name, "rps_c32", res.rps);
        push(out, name, "p99_us_c32", res.p99_us);
      }
      for (const [name, req] of targets) {
        const res = checked(name, await httpLoad({ ...req("/v1/items"), connections: 1, seconds: cfg.seconds }));
        push(out, name, "p50_us_c1", res.p50_us);
        push(out, name, "p99_us_c1", res.p99_us);
      }
      log(`B4 round ${r + 1}/${cfg.rounds} done`);
    }
    return out;
  } finally {
    await Promise.all([stopAll(), lean.stop(), floor.stop(), anOff.stop(), anNoStore.stop()]);
    await up.stop();
  }
}

/** Time to the first body byte of one request, in µs (the generator is this process, on the load CPU). */
async function ttfb(client, path, headers) {
  const t0 = process.hrtime.bigint();
  const r = await client.request({ path, method: "GET", headers });
  let first = null;
  for await (const _chunk of r.body) first ??= process.hrtime.bigint();
  if (r.statusCode !== 200) throw new Error(`status ${r.statusCode} for ${path}`);
  return Number((first ?? process.hrtime.bigint()) - t0) / 1000;
}

/**
 * B5 also samples the Agent Nonce server's RSS (VmRSS from /proc, every 250 ms, from before its first request to
 * the end) and records each round's span and the span of the gateway's own 8-connection 1 MiB load, so the report
 * can compare rounds in the same phase under the same load, after the first round's warm-up.
 */
export async function b5(cfg, log) {
  const up = await startUpstream();
  const { targets, an, stopAll } = await gatewayTargets(cfg, log, up);
  const out = { ttfb: {}, big: {}, rss: [], rss_rounds: [], rss_interval_ms: 250 };
  const sample = () => out.rss.push({ t: Date.now(), kib: rssKiB(an.pid) });
  sample();
  const sampler = setInterval(sample, out.rss_interval_ms);
  try {
    // The soaks behind the RSS criterion saw RSS climb for 1–2 min of streaming before it levels off: the gateway
    // streams the same mix alone for longer than that first, so the rounds measure the level it settles at.
    if (cfg.b5WarmupSeconds > 0) {
      const gw = (kind) => targets.find(([name]) => name === "agent-nonce")[1](kind);
      out.rss_warmup = { start: Date.now(), end: 0 };
      while (Date.now() - out.rss_warmup.start < cfg.b5WarmupSeconds * 1000) {
        checked("agent-nonce warm-up", await httpLoad({ ...gw("/v1/big"), connections: 8, seconds: 10 }));
        checked("agent-nonce warm-up", await httpLoad({ ...gw("/v1/sse"), connections: 8, seconds: 5 }));
      }
      out.rss_warmup.end = Date.now();
      log(`B5 warm-up: ${cfg.b5WarmupSeconds} s of the streaming mix through the gateway`);
    }
    for (let r = 0; r < cfg.rounds; r++) {
      const round = { round: r + 1, start: Date.now(), end: 0, an_load_start: 0, an_load_end: 0 };
      for (const kind of ["/v1/big", "/v1/sse"]) {
        for (const [name, req] of targets) {
          const { url, headers = {} } = req(kind);
          const u = new URL(url);
          const client = new Client(u.origin);
          try {
            const xs = [];
            for (let i = 0; i < cfg.ttfbRequests + 5; i++) {
              const t = await ttfb(client, u.pathname, headers);
              if (i >= 5) xs.push(t);
            }
            push(out.ttfb, `${name} ${kind}`, "p50_us", median(xs));
            xs.sort((a, b) => a - b);
            push(out.ttfb, `${name} ${kind}`, "p99_us", xs[Math.min(xs.length - 1, Math.ceil(0.99 * xs.length) - 1)]);
          } finally {
            await client.close();
          }
        }
      }
      for (const [name, req] of targets) {
        const from = Date.now();
        const res = checked(name, await httpLoad({ ...req("/v1/big"), connections: 8, seconds: cfg.seconds }));
        if (name === "agent-nonce") [round.an_load_start, round.an_load_end] = [from, Date.now()];
        push(out.big, name, "mb_per_s", res.mb_per_s);
        push(out.big, name, "p50_us", res.p50_us);
      }
      round.end = Date.now();
      out.rss_rounds.push(round);
      log(`B5 round ${r + 1}/${cfg.rounds} done`);
    }
    return out;
  } finally {
    clearInterval(sampler);
    await stopAll();
    await up.stop();
  }
}

export async function b6(cfg, log) {
  const up = await startUpstream();
  const dialects = cfg.pg ? ["sqlite", "postgres"] : ["sqlite"];
  const variants = dialects.flatMap((d) => [true, false].map((audit) => ({ dialect: d, audit })));
  const systems = await Promise.all(
    variants.map(async (v) => [`${v.dialect} audit ${v.audit ? "on" : "off"}`, await startAgentNonce(v, up.url)]),
  );
  const out = {};
  try {
    for (const [, an] of systems) {
      await httpLoad({ ...issueReq(an), connections: 32, seconds: cfg.warmup });
      await httpLoad({ ...gwReq(an), connections: 32, seconds: cfg.warmup });
    }
    for (let r = 0; r < cfg.rounds; r++) {
      for (const [name, an] of systems) {
        push(
          out,
          name,
          "issue_rps",
          checked(name, await httpLoad({ ...issueReq(an), connections: 32, seconds: cfg.seconds })).rps,
        );
        push(
          out,
          name,
          "gateway_rps",
          checked(name, await httpLoad({ ...gwReq(an), connections: 32, seconds: cfg.seconds })).rps,
        );
      }
      log(`B6 round ${r + 1}/${cfg.rounds} done`);
    }
    return out;
  } finally {
    for (const [, an] of systems) await an.stop();
    await up.stop();
  }
}
