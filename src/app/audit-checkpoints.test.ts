import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ManualClock } from "../core/clock.js";
import { newId } from "../core/ids.js";
import type { AuditDraft } from "../core/types.js";
import type { Store } from "../store/store.js";
import { createTestSqliteStore } from "../test/stores.js";
import { Checkpointer, readLatestCheckpoint } from "./audit-checkpoints.js";
import { AUDIT_SIGNING_KEY_FILE, checkpointSignatureValid, loadAuditSigner } from "./audit-signing.js";
import { createLogger } from "./logger.js";

const draft = (i: number): AuditDraft => ({
  id: newId("evt", 1000 + i),
  time: 1000 + i,
  type: "service.updated",
  actor: null,
  agent: null,
  task: null,
  nonceId: null,
  service: `s${i}`,
  scopes: null,
  reason: null,
  request: null,
  sourceIp: null,
  data: null,
});

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "an-sign-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("audit signing key", () => {
  it("is created 0600 on first start and the same key is used afterwards", async () => {
    const a = await loadAuditSigner(dir);
    const file = path.join(dir, AUDIT_SIGNING_KEY_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, "utf8"))).toMatchObject({ kty: "OKP", crv: "Ed25519" });
    const b = await loadAuditSigner(dir);
    expect(b.kid).toBe(a.kid);
    expect(a.publicJwk).toMatchObject({ kty: "OKP", crv: "Ed25519", kid: a.kid });
    expect(a.publicJwk).not.toHaveProperty("d");
  });

  it.each([0o640, 0o604])("refuses to start with a key file of mode %o", async (mode) => {
    await loadAuditSigner(dir);
    chmodSync(path.join(dir, AUDIT_SIGNING_KEY_FILE), mode);
    await expect(loadAuditSigner(dir)).rejects.toThrow(/readable by other users/);
  });

  it("refuses a file that is not an Ed25519 key", async () => {
    writeFileSync(path.join(dir, AUDIT_SIGNING_KEY_FILE), '{"kty":"oct","k":"AAAA"}', { mode: 0o600 });
    await expect(loadAuditSigner(dir)).rejects.toThrow(/not a valid Ed25519/);
  });

  it("signs checkpoints that verify, and any edit breaks them", async () => {
    const s = await loadAuditSigner(dir);
    const c = await s.sign({ seq: 7, hash: "ab".repeat(32), time: 123, events: 7 });
    expect(c.jws.split(".")).toHaveLength(3);
    expect(await checkpointSignatureValid(c)).toBe(true);
    expect(await checkpointSignatureValid({ ...c, seq: 8 })).toBe(false);
    expect(await checkpointSignatureValid({ ...c, hash: "cd".repeat(32) })).toBe(false);
    const other = await loadAuditSigner(mkdtempSync(path.join(dir, "other-")));
    // Another key's public key in the row: the kid no longer matches its thumbprint.
    expect(await checkpointSignatureValid({ ...c, publicKey: JSON.stringify(other.publicJwk) })).toBe(false);
  });
});

describe("Checkpointer", () => {
  let store: Store;
  beforeEach(async () => {
    store = await createTestSqliteStore();
  });
  afterEach(async () => store.close());

  const make = async (over: { every?: number; intervalMs?: number } = {}) => {
    const signer = await loadAuditSigner(dir);
    return new Checkpointer({
      store,
      signer,
      clock: new ManualClock(5000),
      log: createLogger("silent"),
      dataDir: dir,
      every: over.every ?? 1_000_000,
      intervalMs: over.intervalMs ?? 3_600_000,
    });
  };

  it("checkpoints after every N events written by this process", async () => {
    const cp = await make({ every: 10 });
    await cp.start();
    await store.appendAudit(Array.from({ length: 9 }, (_, i) => draft(i)));
    await cp.checkpoint().then(() => undefined);
    const first = await store.listCheckpoints(0, 10);
    expect(first.map((c) => c.seq)).toEqual([9]);
    await store.appendAudit(Array.from({ length: 10 }, (_, i) => draft(100 + i)));
    await vi.waitFor(async () => expect((await store.listCheckpoints(0, 10)).map((c) => c.seq)).toEqual([9, 19]));
    // The file is written (asynchronously) after the row.
    await vi.waitFor(() => expect(readLatestCheckpoint(dir)).toMatchObject({ seq: 19, events: 19, time: 5000 }));
    await cp.close();
  });

  it("checkpoints on a timer when the chain moved, never twice for the same head", async () => {
    const cp = await make({ intervalMs: 20 });
    await cp.start();
    await store.appendAudit([draft(1)]);
    await vi.waitFor(async () => expect(await store.listCheckpoints(0, 10)).toHaveLength(1));
    await vi.waitFor(() => expect(readLatestCheckpoint(dir)?.seq).toBe(1));
    expect(await cp.checkpoint()).toBeNull();
    await cp.close();
    expect(await store.listCheckpoints(0, 10)).toHaveLength(1);
  });

  it("writes a final checkpoint on close, and none for an empty chain", async () => {
    const cp = await make();
    await cp.start();
    expect(await cp.checkpoint()).toBeNull();
    await store.appendAudit([draft(1), draft(2)]);
    await cp.close();
    expect((await store.listCheckpoints(0, 10)).map((c) => c.seq)).toEqual([2]);
    expect(readLatestCheckpoint(dir)?.seq).toBe(2);
  });
});
