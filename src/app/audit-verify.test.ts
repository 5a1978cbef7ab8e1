import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { eventHash } from "../core/audit-chain.js";
import { ManualClock } from "../core/clock.js";
import { newId } from "../core/ids.js";
import type { AuditDraft, AuditEvent } from "../core/types.js";
import { type RawStore, rawDialects } from "../test/raw-stores.js";
import { Checkpointer, LATEST_CHECKPOINT_FILE, readLatestCheckpoint } from "./audit-checkpoints.js";
import { type AuditSigner, loadAuditSigner } from "./audit-signing.js";
import { verifyAudit } from "./audit-verify.js";
import { createLogger } from "./logger.js";

/**
 * Playing the attacker with direct database access: every tampering is found, with the seq where the stored
 * chain stops being the committed one. Small pages, so verification crosses page boundaries.
 */

const T0 = Date.UTC(2026, 0, 1);

const draft = (i: number): AuditDraft => ({
  id: newId("evt", T0 + i),
  time: T0 + i,
  type: "nonce.used",
  actor: { type: "nonce", id: "nce_x", name: "bot" },
  agent: "bot",
  task: `task-${i}`,
  nonceId: null,
  service: "stripe",
  scopes: ["read"],
  reason: null,
  request: { method: "GET", path: "/v1/customers", status: null, duration_ms: null, bytes: null },
  sourceIp: "127.0.0.1",
  data: { i },
});

describe.each(rawDialects)("audit verify against tampering ($name)", (d) => {
  let raw: RawStore;
  let signer: AuditSigner;
  let checkpointer: Checkpointer;
  const clock = new ManualClock(T0);

  const append = async (from: number, to: number) => {
    for (let i = from; i <= to; i += 5) {
      await raw.store.appendAudit(Array.from({ length: Math.min(5, to - i + 1) }, (_, k) => draft(i + k)));
    }
  };
  const newCheckpointer = () =>
    new Checkpointer({
      store: raw.store,
      signer,
      clock,
      log: createLogger("silent"),
      dataDir: raw.dataDir,
      every: 1_000_000,
      intervalMs: 3_600_000,
    });
  const verify = () =>
    verifyAudit(raw.store, {
      trustedKids: new Set([signer.kid]),
      latest: readLatestCheckpoint(raw.dataDir),
      pageSize: 4,
    });

  beforeEach(async () => {
    if (d.skip) return;
    raw = await d.create();
    mkdirSync(raw.dataDir, { recursive: true, mode: 0o700 });
    signer = await loadAuditSigner(raw.dataDir);
    checkpointer = newCheckpointer();
    await checkpointer.start();
    await append(1, 10);
    await checkpointer.checkpoint();
    await append(11, 20);
    await checkpointer.checkpoint();
    await append(21, 25);
  });
  afterEach(async () => {
    if (d.skip) return;
    await checkpointer.close();
    await raw.close();
  });

  it.skipIf(d.skip)("an untouched chain verifies, checkpoints included", async () => {
    expect(await verify()).toEqual({ ok: true, events: 25, checkpoints: 3, untrusted_checkpoints: 0, from_seq: 0 });
    expect(readLatestCheckpoint(raw.dataDir)).toMatchObject({ seq: 20, kid: signer.kid });
  });

  it.skipIf(d.skip)("an edited field", async () => {
    await raw.exec("UPDATE audit_events SET agent = 'mallory' WHERE seq = 7");
    expect(await verify()).toMatchObject({ ok: false, events: 6, first_bad_seq: 7, reason: "chain_broken" });
  });

  it.skipIf(d.skip)("an edited event whose own hash the attacker recomputed: the next link breaks", async () => {
    const [e13] = await raw.store.scanAudit(12, 1);
    const forged = { ...(e13 as AuditEvent), agent: "mallory" };
    const hash = eventHash(forged, 13, forged.prevHash);
    await raw.exec(`UPDATE audit_events SET agent = 'mallory', hash = '${hash}' WHERE seq = 13`);
    expect(await verify()).toMatchObject({ ok: false, events: 13, first_bad_seq: 14, reason: "chain_broken" });
  });

  it.skipIf(d.skip)("a deleted row", async () => {
    await raw.exec("DELETE FROM audit_events WHERE seq = 12");
    expect(await verify()).toMatchObject({ ok: false, events: 11, first_bad_seq: 12, reason: "chain_broken" });
  });

  it.skipIf(d.skip)("the first row deleted (no checkpoint to start from)", async () => {
    await raw.exec("DELETE FROM audit_events WHERE seq = 1");
    expect(await verify()).toMatchObject({ ok: false, events: 0, first_bad_seq: 1, reason: "anchor_missing" });
  });

  it.skipIf(d.skip)("two rows' seq swapped", async () => {
    await raw.exec("UPDATE audit_events SET seq = -1 WHERE seq = 5");
    await raw.exec("UPDATE audit_events SET seq = 5 WHERE seq = 9");
    await raw.exec("UPDATE audit_events SET seq = 9 WHERE seq = -1");
    expect(await verify()).toMatchObject({ ok: false, events: 4, first_bad_seq: 5, reason: "chain_broken" });
  });

  it.skipIf(d.skip)("the tail cut below a checkpoint, head row rewound to match", async () => {
    const [e15] = await raw.store.scanAudit(14, 1);
    await raw.exec("DELETE FROM audit_events WHERE seq > 15");
    await raw.exec(`UPDATE audit_head SET seq = 15, hash = '${e15?.hash}' WHERE id = 1`);
    expect(await verify()).toMatchObject({ ok: false, events: 15, first_bad_seq: 16, reason: "chain_truncated" });
  });

  it.skipIf(d.skip)("the tail cut with the head row left alone", async () => {
    await raw.exec("DELETE FROM audit_events WHERE seq > 22");
    expect(await verify()).toMatchObject({ ok: false, events: 22, first_bad_seq: 23, reason: "chain_truncated" });
  });

  it.skipIf(d.skip)(
    "events and checkpoints rolled back: only the checkpoint file outside the database sees it",
    async () => {
      const [e15] = await raw.store.scanAudit(14, 1);
      await raw.exec("DELETE FROM audit_events WHERE seq > 15");
      await raw.exec("DELETE FROM audit_checkpoints WHERE seq > 15");
      await raw.exec(`UPDATE audit_head SET seq = 15, hash = '${e15?.hash}' WHERE id = 1`);
      expect(await verify()).toMatchObject({ ok: false, first_bad_seq: 16, reason: "chain_truncated" });
      // New events at the old seqs do not paper over it: seq 20 now hashes differently from the signed one.
      await append(16, 30);
      expect(await verify()).toMatchObject({ ok: false, first_bad_seq: 20, reason: "checkpoint_mismatch" });
      // A restarted checkpointer keeps the file as evidence instead of signing the rewritten chain over it.
      const before = readFileSync(path.join(raw.dataDir, LATEST_CHECKPOINT_FILE), "utf8");
      const again = newCheckpointer();
      await again.start();
      expect((await again.checkpoint())?.seq).toBe(30);
      await again.close();
      expect(readFileSync(path.join(raw.dataDir, LATEST_CHECKPOINT_FILE), "utf8")).toBe(before);
    },
  );

  it.skipIf(d.skip)("a checkpoint row edited or forged", async () => {
    await raw.exec("UPDATE audit_checkpoints SET hash = '00' WHERE seq = 10");
    expect(await verify()).toMatchObject({ ok: false, first_bad_seq: 10, reason: "checkpoint_invalid" });
  });

  it.skipIf(d.skip)("a checkpoint file signed by another key is not trusted", async () => {
    const res = await verifyAudit(raw.store, {
      trustedKids: new Set(["someone-else"]),
      latest: readLatestCheckpoint(raw.dataDir),
    });
    expect(res).toMatchObject({ ok: false, first_bad_seq: 20, reason: "checkpoint_invalid" });
  });

  // Only SQLite has a database file to restore; the test is not registered for PostgreSQL (rather than skipped).
  const sqliteOnly = d.name === "sqlite" ? it.skipIf(d.skip) : () => undefined;
  sqliteOnly("the database file restored from an earlier copy", async () => {
    const restore = await (raw.snapshot as NonNullable<RawStore["snapshot"]>)();
    await append(26, 40);
    await checkpointer.checkpoint();
    expect(readLatestCheckpoint(raw.dataDir)?.seq).toBe(40);
    await checkpointer.close();
    await restore();
    expect(await verify()).toMatchObject({ ok: false, events: 25, first_bad_seq: 26, reason: "chain_truncated" });
    checkpointer = newCheckpointer();
    await checkpointer.start();
  });
});
