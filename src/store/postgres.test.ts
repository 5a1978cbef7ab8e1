import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { verifyChain } from "../core/audit-chain.js";
import { newId } from "../core/ids.js";
import { generateToken, tokenKey } from "../core/tokens.js";
import type { AuditDraft, NonceRecord } from "../core/types.js";
import { auditDraftRecord, nonceRecord } from "../test/records.js";
import { skipPostgres, TEST_DATABASE_URL } from "../test/stores.js";
import { createPostgresStore } from "./postgres.js";
import type { Store } from "./store.js";

const T0 = Date.UTC(2026, 0, 1);

const draft = (type: AuditDraft["type"], over: Partial<AuditDraft> = {}): AuditDraft =>
  auditDraftRecord(type, over, T0);

/** Several "replicas": independent pools on one schema, as separate processes sharing PostgreSQL would be. */
describe.skipIf(skipPostgres)("postgres store with several replicas", () => {
  const schema = `an_test_${randomBytes(6).toString("hex")}`;
  const stores: Store[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await c.end();
  });

  it("migrate is safe when replicas start at once, and consumeNonce stays exact across them", async () => {
    for (let i = 0; i < 3; i++) {
      stores.push(await createPostgresStore({ connectionString: TEST_DATABASE_URL, schema, poolSize: 6 }));
    }
    await Promise.all(stores.map((s) => s.migrate()));
    const [a, b, c] = stores as [Store, Store, Store];
    const { token, ...rec } = nonceRecord({ maxUses: 7, expiresAt: T0 + 60_000 }, T0);
    await a.insertNonce(rec, draft("nonce.issued"));
    const results = await Promise.all(
      Array.from({ length: 45 }, (_, i) =>
        [a, b, c][i % 3]?.consumeNonce(
          tokenKey(token),
          T0 + 1,
          (n) => draft("nonce.used", { nonceId: n.id }),
          (reason) => draft("nonce.rejected", { reason }),
        ),
      ),
    );
    expect(results.filter((r) => r?.ok)).toHaveLength(7);
    expect(results.filter((r) => r?.ok === false && r.reason === "nonce_exhausted")).toHaveLength(38);
    expect(verifyChain(await b.scanAudit(0, 1000))).toEqual({ ok: true, events: 46 });
  });

  it("group-commits concurrent writes per replica into one chain; a failing write fails alone", async () => {
    for (let i = 0; i < 2; i++) {
      stores.push(await createPostgresStore({ connectionString: TEST_DATABASE_URL, schema, poolSize: 4 }));
    }
    await Promise.all(stores.map((s) => s.migrate()));
    const [a, b] = stores as [Store, Store];
    const commits: number[][] = [[], []];
    a.onAuditCommitted((events) => commits[0]?.push(events.length));
    b.onAuditCommitted((events) => commits[1]?.push(events.length));
    const nonce = (tokenKey: Buffer, maxUses: number | null = null): NonceRecord => ({
      id: newId("nce", T0),
      tokenKey,
      service: "stripe",
      scopes: ["read:customers"],
      routes: ["GET /v1/customers"],
      agent: "bot",
      task: null,
      maxUses,
      uses: 0,
      constraints: null,
      metadata: null,
      issuedBy: "key_x",
      createdAt: T0,
      expiresAt: T0 + 60_000,
      revokedAt: null,
      rate: null,
    });
    const issued = Array.from({ length: 40 }, () => nonce(tokenKey(generateToken("an", T0)), 5));
    // One event-loop turn on each replica: each store writes them as one (or a few) batched transactions.
    await Promise.all(issued.map((n, i) => (i % 2 ? a : b).insertNonce(n, draft("nonce.issued", { nonceId: n.id }))));
    expect(Math.max(...(commits[0] ?? []))).toBeGreaterThan(1);
    expect(Math.max(...(commits[1] ?? []))).toBeGreaterThan(1);

    // Both replicas race on the same nonces (5 uses each, 8 attempts each) and append in between.
    const target = issued.slice(0, 4);
    const results = await Promise.all(
      Array.from({ length: 32 }, (_, i) => {
        const s = i % 2 ? a : b;
        const n = target[i % 4] as NonceRecord;
        return Promise.all([
          s.consumeNonce(
            n.tokenKey,
            T0 + 1,
            (x) => draft("nonce.used", { nonceId: x.id }),
            (reason, x) => draft("nonce.rejected", { reason, nonceId: x?.id ?? null }),
          ),
          s.appendAudit([draft("service.updated")]),
        ]).then(([r]) => r);
      }),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(20);
    expect(results.filter((r) => !r.ok && r.reason === "nonce_exhausted")).toHaveLength(12);
    for (const n of target) expect((await b.getNonce(n.id))?.uses).toBe(5);

    // A duplicate token hash in the middle of a batch: it alone is refused; the others commit with their events.
    const dup = nonce((issued[10] as NonceRecord).tokenKey);
    const fresh = tokenKey(generateToken("an", T0));
    const wave = [nonce(tokenKey(generateToken("an", T0))), dup, nonce(fresh), nonce(fresh)];
    const settled = await Promise.allSettled(
      wave.map((n) => a.insertNonce(n, draft("nonce.issued", { nonceId: n.id }))),
    );
    expect(settled.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled", "rejected"]);
    expect(await a.getNonce(dup.id)).toBeUndefined();
    expect(await a.getNonce((wave[2] as NonceRecord).id)).toBeDefined();

    const events = await b.scanAudit(0, 1000);
    expect(verifyChain(events)).toEqual({ ok: true, events: 40 + 32 + 32 + 2 });
    expect(events.filter((e) => e.nonceId === (wave[3] as NonceRecord).id)).toHaveLength(0);
    expect(events.filter((e) => e.nonceId === dup.id)).toHaveLength(0);
    expect(events.find((e) => e.nonceId === (wave[2] as NonceRecord).id)?.type).toBe("nonce.issued");
  });

  it("rate limits are exact across replicas, on the batched and on the one-by-one (retry) path", async () => {
    for (let i = 0; i < 2; i++) {
      stores.push(await createPostgresStore({ connectionString: TEST_DATABASE_URL, schema, poolSize: 6 }));
    }
    await Promise.all(stores.map((s) => s.migrate()));
    const [a, b] = stores as [Store, Store];
    const consume = (s: Store, n: NonceRecord, now: number) =>
      s.consumeNonce(
        n.tokenKey,
        now,
        (x) => draft("nonce.used", { nonceId: x.id }),
        (reason, x) => draft("nonce.rejected", { reason, nonceId: x?.id ?? null }),
      );
    const { token: _t, ...raced } = nonceRecord({ rate: "7/m" }, T0);
    await a.insertNonce(raced, draft("nonce.issued"));
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => consume(i % 2 ? a : b, raced, T0 + 1)));
    expect(results.filter((r) => r.ok)).toHaveLength(7);
    expect(results.filter((r) => !r.ok && r.reason === "rate_limited")).toHaveLength(23);

    // A duplicate insert queued in the same turn fails the batch: every write then runs alone (runAlone), where
    // a rated nonce is decided on its row locked FOR UPDATE.
    const { token: _u, ...alone } = nonceRecord({ rate: "3/s" }, T0);
    await a.insertNonce(alone, draft("nonce.issued"));
    const settled = await Promise.allSettled([
      a.insertNonce(alone, draft("nonce.issued")),
      ...Array.from({ length: 5 }, () => consume(a, alone, T0 + 2)),
    ]);
    expect(settled[0]?.status).toBe("rejected");
    const outcomes = settled.slice(1).map((r) => (r.status === "fulfilled" ? r.value : null));
    expect(outcomes.map((r) => r?.ok)).toEqual([true, true, true, false, false]);
    const last = outcomes[4];
    expect(last?.ok === false && last.reason === "rate_limited" && last.retryAfterMs).toBeCloseTo(1000 / 3, 6);
    // The state the one-by-one path wrote is the one the batched path goes on from: 333 ms is too early.
    expect(await consume(b, alone, T0 + 2 + 333)).toMatchObject({ ok: false, reason: "rate_limited" });
    expect(await consume(b, alone, T0 + 2 + 334)).toMatchObject({ ok: true, nonce: { uses: 4 } });
    expect((await a.getNonce(alone.id))?.uses).toBe(4);
    expect(verifyChain(await b.scanAudit(0, 1000)).ok).toBe(true);
  });

  it("refuses a schema name that is not a plain identifier", async () => {
    await expect(
      createPostgresStore({ connectionString: TEST_DATABASE_URL, schema: "x; DROP TABLE nonces" }),
    ).rejects.toMatchObject({ code: "invalid_request" });
  });
});
