import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { isUsable, nonceStatus } from "../core/nonces.js";
import type { NonceRecord, NonceStatus } from "../core/types.js";
import { auditDraftRecord, nonceRecord } from "../test/records.js";
import { dialects, skipPostgres, TEST_DATABASE_URL } from "../test/stores.js";
import { usableNonceSql } from "./queries.js";

/**
 * One definition of a usable nonce (core/nonces.ts `isUsable`): its SQL form (`usableNonceSql`, PostgreSQL's
 * consume) and the status filter (`statusIs`, listNonces) agree with it on every corner of the state space, on both
 * dialects: revoked or not, uses below, at and above max_uses (and none), expiry before, at and after `now`.
 */

const NOW = Date.UTC(2026, 0, 1, 12);
type State = Pick<NonceRecord, "revokedAt" | "expiresAt" | "uses" | "maxUses">;

const GRID: State[] = [];
for (const revokedAt of [null, NOW - 1])
  for (const maxUses of [null, 0, 1, 3])
    for (const uses of [0, 1, 3, 4])
      for (const expiresAt of [NOW - 1, NOW, NOW + 1]) GRID.push({ revokedAt, maxUses, uses, expiresAt });

const CTE = "WITH t (revoked_at, expires_at, uses, max_uses) AS";

describe("usable nonce: core, SQL and the status filter agree", () => {
  it("SQLite evaluates usableNonceSql as isUsable", () => {
    const db = new Database(":memory:");
    try {
      const q = db.prepare(`${CTE} (VALUES (?, ?, ?, ?)) SELECT (${usableNonceSql("?")}) AS u FROM t`).pluck();
      for (const s of GRID) {
        const u = q.get(s.revokedAt, s.expiresAt, s.uses, s.maxUses, NOW);
        expect(u === 1, JSON.stringify(s)).toBe(isUsable(s, NOW));
      }
    } finally {
      db.close();
    }
  });

  it.skipIf(skipPostgres)("PostgreSQL evaluates usableNonceSql as isUsable", async () => {
    const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await c.connect();
    try {
      const text = `${CTE} (VALUES ($1::bigint, $2::bigint, $3::int, $4::int)) SELECT (${usableNonceSql("$5")}) AS u FROM t`;
      for (const s of GRID) {
        const r = await c.query<{ u: boolean }>(text, [s.revokedAt, s.expiresAt, s.uses, s.maxUses, NOW]);
        expect(r.rows[0]?.u, JSON.stringify(s)).toBe(isUsable(s, NOW));
      }
    } finally {
      await c.end();
    }
  });
});

describe.each(dialects)("listNonces status filter follows nonceStatus ($name)", (d) => {
  const stores: { close(): Promise<void> }[] = [];
  afterAll(async () => {
    for (const s of stores) await s.close();
  });

  it.skipIf(d.skip)("for every state of the grid", async () => {
    const store = await d.create();
    stores.push(store);
    const byId = new Map<string, State>();
    for (const s of GRID) {
      const n = nonceRecord({ ...s, createdAt: NOW - 10_000 }, NOW - 10_000);
      byId.set(n.id, s);
      await store.insertNonce(n, auditDraftRecord("nonce.issued", { nonceId: n.id }, NOW - 10_000));
    }
    for (const status of ["active", "revoked", "exhausted", "expired"] as NonceStatus[]) {
      const page = await store.listNonces({ status }, { limit: 1000 }, NOW);
      const want = [...byId].filter(([, s]) => nonceStatus(s, NOW) === status).map(([id]) => id);
      expect(page.items.map((n) => n.id).sort(), status).toEqual(want.sort());
    }
  });
});
