import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { verifyChain } from "../core/audit-chain.js";
import type { AuditDraft, NonceRecord } from "../core/types.js";
import { auditDraftRecord, nonceRecord } from "../test/records.js";
import { dialects } from "../test/stores.js";
import type { ConsumeRefusal, ConsumeResult, Store } from "./store.js";

/**
 * Per-nonce rate limits in the store (Store.consumeNonce with core/rate.ts takeRate): decided in the consume's
 * transaction with the use counter, on both dialects, so replicas sharing the database share the limit.
 */

// An epoch-magnitude time (a float GCRA state lost requests to rounding here).
const T0 = Date.UTC(2026, 0, 1);

const draft = (type: AuditDraft["type"], over: Partial<AuditDraft> = {}): AuditDraft =>
  auditDraftRecord(type, over, T0);
const used = (n: NonceRecord) => draft("nonce.used", { nonceId: n.id });
const rejected = (reason: ConsumeRefusal, n: NonceRecord | null) =>
  draft("nonce.rejected", { nonceId: n?.id ?? null, reason });

describe.each(dialects)("store conformance: rate limits ($name)", (d) => {
  describe.skipIf(d.skip)(d.name, () => {
    let store: Store;
    beforeEach(async () => {
      store = await d.create({ poolSize: 12 });
    });
    afterEach(async () => {
      await store?.close();
    });

    const issue = async (over: Partial<NonceRecord>) => {
      const { token: _t, ...n } = nonceRecord(over, T0);
      await store.insertNonce(n, draft("nonce.issued", { nonceId: n.id }));
      return n;
    };
    const consume = (n: NonceRecord, now: number) => store.consumeNonce(n.tokenKey, now, used, rejected);
    const reasons = async (n: NonceRecord) =>
      (await store.scanAudit(0, 1_000)).filter((e) => e.nonceId === n.id).map((e) => e.reason ?? e.type);

    it("admits the burst, then rate_limited (no use, no nonce.used, state kept) until time passes", async () => {
      const n = await issue({ rate: "6/s" });
      const burst = [];
      for (let i = 0; i < 6; i++) burst.push(await consume(n, T0));
      expect(burst.map((r) => r.ok)).toEqual([true, true, true, true, true, true]);
      expect(burst.map((r) => r.ok && r.nonce.uses)).toEqual([1, 2, 3, 4, 5, 6]);

      const over = await consume(n, T0);
      expect(over).toMatchObject({ ok: false, reason: "rate_limited", nonce: { id: n.id, uses: 6 } });
      expect(over.ok === false && over.reason === "rate_limited" && over.retryAfterMs).toBeCloseTo(1000 / 6, 6);
      expect((await store.getNonce(n.id))?.uses).toBe(6);
      expect(await store.getNonceStatus(n.tokenKey, T0)).toBe("active");

      // One every 1000/6 ms: the state is exact, so 166 ms is too early and 167 ms enough.
      const early = await consume(n, T0 + 166);
      expect(early).toMatchObject({ ok: false, reason: "rate_limited" });
      expect(early.ok === false && early.reason === "rate_limited" && early.retryAfterMs).toBeCloseTo(4 / 6, 6);
      expect(await consume(n, T0 + 167)).toMatchObject({ ok: true, nonce: { uses: 7 } });
      expect(await consume(n, T0 + 167)).toMatchObject({ ok: false, reason: "rate_limited" });
      // After a full period the whole burst is back.
      const later = [];
      for (let i = 0; i < 7; i++) later.push((await consume(n, T0 + 1_167)).ok);
      expect(later).toEqual([true, true, true, true, true, true, false]);

      expect(await reasons(n)).toEqual([
        "nonce.issued",
        ...Array(6).fill("nonce.used"),
        "rate_limited",
        "rate_limited",
        "nonce.used",
        "rate_limited",
        ...Array(6).fill("nonce.used"),
        "rate_limited",
      ]);
      expect(verifyChain(await store.scanAudit(0, 1_000)).ok).toBe(true);
    });

    it("a refused attempt leaves the state alone: retrying early never pushes the next admission back", async () => {
      const n = await issue({ rate: "1/m" });
      expect((await consume(n, T0)).ok).toBe(true);
      for (let t = 1; t < 60; t++) {
        const r = await consume(n, T0 + t * 1_000);
        expect(r.ok === false && r.reason === "rate_limited" && r.retryAfterMs).toBe(60_000 - t * 1_000);
      }
      expect((await consume(n, T0 + 60_000)).ok).toBe(true);
    });

    it("a dead nonce is refused for being dead, never rate_limited: exhausted, revoked, expired win", async () => {
      const capped = await issue({ rate: "2/m", maxUses: 2 });
      expect((await consume(capped, T0)).ok).toBe(true);
      expect((await consume(capped, T0)).ok).toBe(true);
      expect(await consume(capped, T0)).toMatchObject({ ok: false, reason: "nonce_exhausted" });

      const revoked = await issue({ rate: "1/m" });
      expect((await consume(revoked, T0)).ok).toBe(true);
      await store.revokeNonce(revoked.id, T0, (r) => draft("nonce.revoked", { nonceId: r.id }));
      expect(await consume(revoked, T0)).toMatchObject({ ok: false, reason: "nonce_revoked" });

      const short = await issue({ rate: "1/m", expiresAt: T0 + 10 });
      expect((await consume(short, T0)).ok).toBe(true);
      expect(await consume(short, T0 + 5)).toMatchObject({ ok: false, reason: "rate_limited" });
      expect(await consume(short, T0 + 10)).toMatchObject({ ok: false, reason: "nonce_expired" });

      // A delegated nonce whose parent is revoked: revoked, whatever its own rate says.
      const parent = await issue({});
      const child = await issue({ rate: "1/m", parentId: parent.id, depth: 1 });
      expect((await consume(child, T0)).ok).toBe(true);
      await store.revokeNonce(parent.id, T0, (r) => draft("nonce.revoked", { nonceId: r.id }));
      expect(await consume(child, T0)).toMatchObject({ ok: false, reason: "nonce_revoked" });
    });

    it("is atomic: 30 concurrent uses of a 5/m nonce give exactly 5 ok and 25 rate_limited", async () => {
      const n = await issue({ rate: "5/m" });
      const results: ConsumeResult[] = await Promise.all(Array.from({ length: 30 }, () => consume(n, T0 + 1)));
      expect(results.filter((r) => r.ok)).toHaveLength(5);
      expect(results.filter((r) => !r.ok && r.reason === "rate_limited")).toHaveLength(25);
      expect((await store.getNonce(n.id))?.uses).toBe(5);
      const events = await store.scanAudit(0, 1_000);
      expect(events.filter((e) => e.type === "nonce.used")).toHaveLength(5);
      expect(events.filter((e) => e.reason === "rate_limited")).toHaveLength(25);
      expect(verifyChain(events).ok).toBe(true);
    });

    it("a nonce issued and used in the same batch keeps the rate state that use moved it to", async () => {
      const { token: _t, ...n } = nonceRecord({ rate: "2/s" }, T0);
      const same = await Promise.all([
        store.insertNonce(n, draft("nonce.issued", { nonceId: n.id })).then(() => null),
        consume(n, T0),
        consume(n, T0),
        consume(n, T0),
      ]);
      expect(same.slice(1).map((r) => r?.ok)).toEqual([true, true, false]);
      expect(await consume(n, T0 + 1)).toMatchObject({ ok: false, reason: "rate_limited" });
      expect(await consume(n, T0 + 500)).toMatchObject({ ok: true, nonce: { uses: 3 } });
    });

    it("nonces without a rate are not limited, and limits are per nonce", async () => {
      const free = await issue({});
      const a = await issue({ rate: "1/h" });
      const b = await issue({ rate: "1/h" });
      for (let i = 0; i < 50; i++) expect((await consume(free, T0)).ok).toBe(true);
      expect((await consume(a, T0)).ok).toBe(true);
      expect((await consume(a, T0)).ok).toBe(false);
      expect((await consume(b, T0)).ok).toBe(true);
    });
  });
});
