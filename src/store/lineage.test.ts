import { afterEach, describe, expect, it } from "vitest";
import type { NonceRecord } from "../core/types.js";
import { auditDraftRecord, nonceRecord } from "../test/records.js";
import { dialects } from "../test/stores.js";
import type { Store } from "./store.js";

/**
 * Delegation lineage in the store, on both dialects: a descendant is alive only while every ancestor is. The
 * consume and getNonceStatus read the chain in the deciding transaction, so no cache or fan-out write is needed
 * for "revoking or exhausting a nonce ends every descendant at once, on every replica"; revocation also marks
 * the descendants revoked in the same transaction (views and lists), each with its own event.
 */

const T0 = 1_767_225_600_000;
const issued = (n: NonceRecord) => auditDraftRecord("nonce.issued", { nonceId: n.id }, T0);
const used = (n: NonceRecord) => auditDraftRecord("nonce.used", { nonceId: n.id }, T0);
const revoked = (n: NonceRecord) => auditDraftRecord("nonce.revoked", { nonceId: n.id, reason: "test" }, T0);

describe.each(dialects)("delegation lineage ($name)", (d) => {
  describe.skipIf(d.skip)(d.name, () => {
    let store: Store | undefined;
    afterEach(async () => {
      await store?.close();
      store = undefined;
    });

    async function chain(rootOver: Partial<NonceRecord> = {}) {
      store = await d.create();
      const root = nonceRecord(rootOver, T0);
      const child = nonceRecord({ parentId: root.id, depth: 1 }, T0);
      const grand = nonceRecord({ parentId: child.id, depth: 2 }, T0);
      for (const n of [root, child, grand]) await store.insertNonce(n, issued(n));
      return { s: store, root, child, grand };
    }
    const consume = (s: Store, n: NonceRecord, now = T0 + 1) => s.consumeNonce(n.tokenKey, now, used, () => null);

    it("round-trips lineage and the canary flag", async () => {
      const { s, child } = await chain({ canary: true });
      expect(await s.getNonce(child.id)).toMatchObject({ parentId: child.parentId, depth: 1 });
      const root = await s.getNonceByKey((await s.getNonce(child.parentId as string))?.tokenKey as Buffer);
      expect(root?.canary).toBe(true);
      expect(root?.parentId).toBeUndefined();
    });

    it("exhausting the root ends the grandchild, in the consume and in the status read", async () => {
      const { s, root, grand } = await chain({ maxUses: 1 });
      expect((await consume(s, grand)).ok).toBe(true);
      expect((await consume(s, root)).ok).toBe(true);
      expect(await s.getNonceStatus(grand.tokenKey, T0 + 2)).toBe("revoked");
      expect(await consume(s, grand)).toMatchObject({ ok: false, reason: "nonce_revoked" });
      expect((await s.getNonce(grand.id))?.uses).toBe(1);
    });

    it("a parent's last use and its child's use in one group commit: the child's, queued after, is refused", async () => {
      const { s, root, child } = await chain({ maxUses: 1 });
      const [a, b] = await Promise.all([consume(s, root), consume(s, child)]);
      expect(a.ok).toBe(true);
      expect(b).toMatchObject({ ok: false, reason: "nonce_revoked" });
    });

    it("revoking the root revokes every descendant with an event each", async () => {
      const { s, root, child, grand } = await chain();
      expect(await s.getNonceStatus(grand.tokenKey, T0 + 1)).toBe("active");
      await s.revokeNonce(root.id, T0 + 1, revoked);
      for (const n of [child, grand]) {
        expect((await s.getNonce(n.id))?.revokedAt).toBe(T0 + 1);
        const ev = (await s.listAudit({ nonceId: n.id, type: "nonce.revoked" }, { limit: 10 })).items;
        expect(ev).toHaveLength(1);
        expect(ev[0]).toMatchObject({ reason: "ancestor_revoked", data: { ancestor_id: root.id } });
      }
      expect(await consume(s, grand)).toMatchObject({ ok: false, reason: "nonce_revoked" });
    });

    it("a child inserted under an already revoked parent (a delegation racing the revocation) is dead", async () => {
      store = await d.create();
      const root = nonceRecord({}, T0);
      await store.insertNonce(root, issued(root));
      await store.revokeNonce(root.id, T0 + 1, revoked);
      const late = nonceRecord({ parentId: root.id, depth: 1 }, T0);
      await store.insertNonce(late, issued(late));
      expect(await store.getNonceStatus(late.tokenKey, T0 + 2)).toBe("revoked");
      expect(await consume(store, late, T0 + 2)).toMatchObject({ ok: false, reason: "nonce_revoked" });
    });
  });
});
