import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { newId } from "../core/ids.js";
import type { AuditCheckpoint, AuditDraft, AuditEvent, NonceRecord } from "../core/types.js";
import { nonceRecord } from "../test/records.js";
import { dialects } from "../test/stores.js";
import type { Store } from "./store.js";

/** The audit-specific store surface: commit notifications, checkpoints, retention. Both dialects. */

const T0 = Date.UTC(2026, 0, 1);

const draft = (i: number): AuditDraft => ({
  id: newId("evt", T0 + i),
  time: T0 + i,
  type: "service.updated",
  actor: { type: "system", id: "test", name: "test" },
  agent: null,
  task: null,
  nonceId: null,
  service: `svc${i}`,
  scopes: null,
  reason: null,
  request: null,
  sourceIp: null,
  data: null,
});

const nonce = (id: string): NonceRecord =>
  nonceRecord(
    { id, service: "s", scopes: ["r"], routes: ["GET /x"], agent: "a", task: "t", expiresAt: T0 + 60_000 },
    T0,
  );

const checkpoint = (seq: number, kid: string): AuditCheckpoint => ({
  seq,
  hash: "ab".repeat(32),
  time: T0 + seq,
  events: seq,
  kid,
  publicKey: '{"kty":"OKP"}',
  jws: `jws.${seq}.${kid}`,
});

describe.each(dialects)("audit store ($name)", (d) => {
  let store: Store;
  beforeEach(async () => {
    if (d.skip) return;
    store = await d.create();
  });
  afterEach(async () => {
    if (d.skip) return;
    await store.close();
  });

  it.skipIf(d.skip)(
    "reports committed events to listeners in seq order, and nothing for a rolled-back write",
    async () => {
      const seen: AuditEvent[] = [];
      const off = store.onAuditCommitted((events) => {
        seen.push(...events);
      });
      store.onAuditCommitted(() => {
        throw new Error("a broken listener must not fail the write");
      });
      await store.appendAudit([draft(1), draft(2)]);
      await Promise.all([store.appendAudit([draft(3)]), store.appendAudit([draft(4)])]);
      const n = nonce(newId("nce", T0));
      await store.insertNonce(n, { ...draft(5), type: "nonce.issued", nonceId: n.id });
      // Same id again: the insert fails and rolls back, so its event was never committed.
      await expect(store.insertNonce(n, { ...draft(6), type: "nonce.issued", nonceId: n.id })).rejects.toThrow();
      await store.consumeNonce(
        n.tokenKey,
        T0 + 1,
        () => ({ ...draft(7), type: "nonce.used", nonceId: n.id }),
        () => null,
      );
      off();
      await store.appendAudit([draft(8)]);
      expect(seen.map((e) => e.seq).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(seen.map((e) => e.type)).not.toContain(undefined);
      const stored = await store.scanAudit(0, 100);
      expect(stored.map((e) => e.hash)).toEqual([
        ...seen.sort((a, b) => a.seq - b.seq).map((e) => e.hash),
        stored[6]?.hash,
      ]);
    },
  );

  it.skipIf(d.skip)("stores, lists and finds checkpoints by seq and key", async () => {
    for (const c of [checkpoint(10, "kB"), checkpoint(10, "kA"), checkpoint(5, "kA"), checkpoint(20, "kB")]) {
      await store.insertCheckpoint(c);
    }
    await expect(store.insertCheckpoint(checkpoint(10, "kA"))).rejects.toThrow();
    const all = await store.listCheckpoints(0, 10);
    expect(all.map((c) => `${c.seq}/${c.kid}`)).toEqual(["5/kA", "10/kA", "10/kB", "20/kB"]);
    expect(all[1]).toEqual(checkpoint(10, "kA"));
    expect((await store.listCheckpoints(5, 2)).map((c) => c.seq)).toEqual([10, 10]);
    expect((await store.latestCheckpoint({}))?.seq).toBe(20);
    expect((await store.latestCheckpoint({ kids: ["kA"] }))?.seq).toBe(10);
    expect((await store.latestCheckpoint({ maxSeq: 19, kids: ["kB"] }))?.seq).toBe(10);
    expect(await store.latestCheckpoint({ maxSeq: 4 })).toBeUndefined();
    expect(await store.latestCheckpoint({ kids: [] })).toBeUndefined();
  });

  it.skipIf(d.skip)("prunes events through a seq in batches and the checkpoints below it", async () => {
    await store.appendAudit(Array.from({ length: 10 }, (_, i) => draft(i + 1)));
    for (const s of [3, 6, 9]) await store.insertCheckpoint(checkpoint(s, "k"));
    expect(await store.pruneAudit(6, 4)).toBe(4);
    expect(await store.pruneAudit(6, 4)).toBe(2);
    expect(await store.pruneAudit(6, 4)).toBe(0);
    expect((await store.scanAudit(0, 100)).map((e) => e.seq)).toEqual([7, 8, 9, 10]);
    expect((await store.listCheckpoints(0, 10)).map((c) => c.seq)).toEqual([6, 9]);
    expect(await store.auditHead()).toMatchObject({ seq: 10 });
  });
});
