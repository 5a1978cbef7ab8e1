import { randomFillSync } from "node:crypto";
import Database from "better-sqlite3";
import pg from "pg";
import { tokenKey } from "../../../dist/core/tokens.js";
import { closedLoop, consume, startInproc } from "../lib/inproc-ctx.mjs";

/**
 * B7 scale: issuance and consume with N stored nonces vs the empty store, interleaved per round, then the
 * expired-nonce cleanup rate (store.deleteExpiredNonces, 10,000 rows per call as the server runs it). Bulk rows
 * are loaded through a fast path (one SQLite transaction with a prepared insert; PostgreSQL INSERT … SELECT
 * generate_series); they expire 1–2 days from now, so they are valid rows as far as the hot path is concerned.
 * Their keys are what issuance would have written (core/tokens.ts tokenKey): 6 bytes of issuance ms, spread in
 * row order over the day before the run, then 32 random bytes. Keys with random leading bytes would make every
 * later issuance land in the middle of the index again and B7 would measure the wrong index.
 */

const DAY = 86_400_000;

function loadSqlite(file, n, issuedBy) {
  const db = new Database(file);
  db.pragma("busy_timeout = 5000");
  db.pragma("synchronous = OFF");
  db.pragma("cache_size = -1048576");
  const ins = db.prepare(`INSERT INTO nonces (id, token_key, service, scopes, routes, agent, task, max_uses, uses,
    constraints, metadata, issued_by, created_at, expires_at, revoked_at)
    VALUES (?, ?, 'bench', '["read"]', '["GET /v1/**"]', ?, ?, NULL, 0, NULL, NULL, ?, ?, ?, NULL)`);
  const now = Date.now();
  const first = now - 2 * DAY;
  const keys = Buffer.alloc(38 * 65536);
  const CHUNK = 250_000;
  for (let start = 0; start < n; start += CHUNK) {
    db.transaction(() => {
      for (let i = start; i < Math.min(n, start + CHUNK); i++) {
        const j = i % 65536;
        if (j === 0) randomFillSync(keys);
        const id = `nce_bulk${String(i).padStart(18, "0")}`;
        const issuedAt = first + Math.floor((i * DAY) / n);
        const key = keys.subarray(j * 38, j * 38 + 38);
        key.writeUIntBE(issuedAt, 0, 6);
        ins.run(id, key, `agent-${i % 1000}`, `task-${i % 10000}`, issuedBy, issuedAt, now + DAY + (i % DAY));
      }
    })();
  }
  db.close();
}

async function loadPostgres(url, n, issuedBy) {
  const c = new pg.Client({ connectionString: url });
  c.on("error", () => undefined);
  await c.connect();
  try {
    await fill(c, n, issuedBy);
    await c.query("ANALYZE nonces");
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function fill(c, n, issuedBy) {
  const now = Date.now();
  const first = now - 2 * DAY;
  const STEP = 1_000_000;
  for (let start = 0; start < n; start += STEP) {
    await c.query(
      `INSERT INTO nonces (id, token_key, service, scopes, routes, agent, task, max_uses, uses, constraints, metadata,
         issued_by, created_at, expires_at, revoked_at)
       SELECT 'nce_bulk' || lpad(i::text, 18, '0'),
         decode(lpad(to_hex(t.ms), 12, '0') || md5('a' || i) || md5('b' || i), 'hex'), 'bench',
         '["read"]', '["GET /v1/**"]', 'agent-' || (i % 1000), 'task-' || (i % 10000), NULL, 0, NULL, NULL, $1,
         t.ms, $2::bigint + ${DAY} + (i % ${DAY}), NULL
       FROM generate_series($3::bigint, $4::bigint) AS i,
         LATERAL (SELECT $5::bigint + (i * ${DAY}) / $6::bigint AS ms) AS t`,
      [issuedBy, now, start, Math.min(n, start + STEP) - 1, first, n],
    );
  }
}

export async function b7({ rounds, seconds, dialect, sizes, cleanupRows }) {
  const stores = [];
  const out = { dialect, load: [], rounds: {}, cleanup: null };
  try {
    for (const n of sizes) {
      const an = await startInproc({ dialect, synchronous: "FULL" });
      stores.push({ n, an });
      if (n > 0) {
        const t0 = performance.now();
        if (an.sqliteFile) loadSqlite(an.sqliteFile, n, an.caller.key.id);
        else await loadPostgres(an.pgUrl, n, an.caller.key.id);
        const secs = (performance.now() - t0) / 1000;
        out.load.push({ rows: n, seconds: secs, rows_per_s: n / secs });
        console.error(`[b7] ${dialect}: loaded ${n.toLocaleString()} rows in ${secs.toFixed(1)} s`);
      }
      // Nonces consumed round-robin: spread over the index, like many agents at once.
      const pool = [];
      for (let i = 0; i < 1000; i++) pool.push(tokenKey((await an.issue({ ttl: "6h" })).token));
      stores[stores.length - 1].pool = pool;
    }
    for (const s of stores) {
      let k = 0;
      await closedLoop(() => s.an.issue(), { concurrency: 32, seconds: Math.min(1, seconds) });
      await closedLoop(() => consume(s.an.ctx, s.pool[k++ % s.pool.length]), { concurrency: 32, seconds: 0.5 });
    }
    for (let r = 0; r < rounds; r++) {
      for (const s of stores) {
        const key = String(s.n);
        out.rounds[key] ??= { issue: [], consume: [], consume_p50_us: [] };
        const a = await closedLoop(() => s.an.issue(), { concurrency: 32, seconds });
        let k = 0;
        const c = await closedLoop(
          async () => {
            const res = await consume(s.an.ctx, s.pool[k++ % s.pool.length]);
            if (!res.ok) throw new Error(`consume rejected: ${res.reason}`);
          },
          { concurrency: 32, seconds },
        );
        out.rounds[key].issue.push(a.ops_per_s);
        out.rounds[key].consume.push(c.ops_per_s);
        out.rounds[key].consume_p50_us.push(c.p50_us);
      }
    }
    // Cleanup rate on the largest store: delete in 10,000-row batches as the server's timer does.
    const big = stores[stores.length - 1];
    if (big.n > 0) {
      const before = Date.now() + 3 * DAY;
      let deleted = 0;
      let calls = 0;
      const t0 = performance.now();
      while (deleted < cleanupRows) {
        const d = await big.an.ctx.store.deleteExpiredNonces(before, 10_000);
        deleted += d;
        calls += 1;
        if (d === 0) break;
      }
      const secs = (performance.now() - t0) / 1000;
      out.cleanup = {
        stored: big.n,
        deleted,
        calls,
        seconds: secs,
        rows_per_s: deleted / secs,
        ms_per_call: (secs * 1000) / calls,
      };
    }
    return out;
  } finally {
    for (const s of stores) await s.an.stop();
  }
}
