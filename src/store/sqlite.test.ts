import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { verifyChain } from "../core/audit-chain.js";
import { seal } from "../core/crypto.js";
import { newId } from "../core/ids.js";
import { generateToken, tokenKey } from "../core/tokens.js";
import type { AuditDraft, NonceRecord } from "../core/types.js";
import { auditDraftRecord, nonceRecord } from "../test/records.js";
import { createSqliteStore } from "./sqlite.js";

const T0 = Date.UTC(2026, 0, 1);

const draft = (type: AuditDraft["type"], over: Partial<AuditDraft> = {}): AuditDraft =>
  auditDraftRecord(type, { actor: { type: "system", id: "system", name: "test" }, ...over }, T0);

describe("sqlite store file handling", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "an-sqlite-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("creates the database and its WAL sidecars 0600, migrates idempotently, survives reopen", async () => {
    const file = path.join(dir, "agent-nonce.db");
    const token = generateToken("an", T0);
    const secret = Buffer.from(`sk_test_FAKE_${randomBytes(8).toString("hex")}`);
    const nonce: NonceRecord = {
      id: newId("nce", T0),
      tokenKey: tokenKey(token),
      service: "stripe",
      scopes: ["read:customers"],
      routes: ["GET /v1/customers"],
      agent: "bot",
      task: "t1",
      maxUses: null,
      uses: 0,
      constraints: null,
      metadata: { k: "v" },
      rate: "5/s",
      issuedBy: "key_x",
      createdAt: T0,
      expiresAt: T0 + 60_000,
      revokedAt: null,
    };
    const keys = { current: 1, keys: new Map([[1, randomBytes(32)]]) };
    let s = await createSqliteStore({ filename: file });
    await s.migrate();
    await s.migrate();
    await s.putService(
      {
        name: "stripe",
        template: null,
        upstream: "https://api.stripe.com",
        auth: { type: "bearer" },
        scopes: {},
        insecureUpstream: false,
        createdAt: T0,
        updatedAt: T0,
      },
      draft("service.created", { service: "stripe" }),
    );
    await s.setCredential("stripe", seal(keys, "stripe", secret), "sha256:x", T0, draft("credential.set"));
    await s.insertNonce(nonce, draft("nonce.issued", { nonceId: nonce.id }));
    for (const suffix of ["", "-wal", "-shm"]) {
      expect((statSync(file + suffix).mode & 0o777).toString(8)).toBe("600");
    }
    await s.close();

    s = await createSqliteStore({ filename: file });
    await s.migrate();
    expect(await s.getNonceByKey(tokenKey(token))).toEqual(nonce);
    expect(verifyChain(await s.scanAudit(0, 100))).toEqual({ ok: true, events: 3 });
    await s.close();

    for (const suffix of ["", "-wal"]) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(file + suffix);
      } catch {
        continue;
      }
      expect(bytes.includes(Buffer.from(token))).toBe(false);
      expect(bytes.includes(Buffer.from(token.slice(10, 40)))).toBe(false);
      expect(bytes.includes(secret)).toBe(false);
    }
  });

  it("group commit: bursts larger than one batch all commit in one valid chain; close() drains pending writes", async () => {
    const file = path.join(dir, "burst.db");
    let s = await createSqliteStore({ filename: file, synchronous: "NORMAL" });
    await s.migrate();
    const appended = await Promise.all(
      Array.from({ length: 600 }, (_, i) => s.appendAudit([draft("system.started", { reason: `r${i}` })])),
    );
    expect(appended.map((e) => e[0]?.seq).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual(
      Array.from({ length: 600 }, (_, i) => i + 1),
    );
    const pending = s.appendAudit([draft("system.started", { reason: "last" })]);
    await s.close();
    await expect(pending).resolves.toHaveLength(1);
    s = await createSqliteStore({ filename: file });
    const events = await s.scanAudit(0, 1000);
    expect(verifyChain(events)).toEqual({ ok: true, events: 601 });
    expect(events[600]?.reason).toBe("last");
    await s.close();
  });
  it("chain head in memory: rolled-back writes (a lone batch, a mixed batch, a transaction) leave it at the last committed event", async () => {
    const s = await createSqliteStore({ filename: path.join(dir, "head.db"), synchronous: "NORMAL" });
    await s.migrate();
    const [first] = await s.appendAudit([draft("system.started")]);
    const dup = () => draft("system.started", { id: first?.id as string });
    // Alone in its batch: the optimistic transaction fails and nothing is retried.
    await expect(s.appendAudit([draft("system.started"), dup()])).rejects.toThrow();
    expect(await s.auditHead()).toEqual({ seq: 1, hash: first?.hash });
    // Mixed batch: the failing write is isolated, the others commit once, contiguous.
    const burst = await Promise.allSettled([
      s.appendAudit([draft("system.started", { reason: "a" })]),
      s.appendAudit([draft("system.started"), dup()]),
      s.appendAudit([draft("system.started", { reason: "b" })]),
    ]);
    expect(burst.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    // A plain transaction whose audit draft throws after the chain advanced in memory.
    const n = nonceRecord({ expiresAt: T0 + 60_000 }, T0);
    await s.insertNonce(n, draft("nonce.issued", { nonceId: n.id }));
    await expect(
      s.revokeNonce(n.id, T0 + 1, () => {
        throw new Error("draft failed");
      }),
    ).rejects.toThrow("draft failed");
    const last = await s.appendAudit([draft("system.started", { reason: "last" })]);
    const events = await s.scanAudit(0, 100);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(verifyChain(events)).toEqual({ ok: true, events: 5 });
    expect(await s.auditHead()).toEqual({ seq: 5, hash: last[0]?.hash });
    expect((await s.getNonce(n.id))?.revokedAt).toBeNull();
    await s.close();
  });

  it("chain head in memory: another connection appending to the same file is noticed, the chain stays one", async () => {
    const file = path.join(dir, "two.db");
    const a = await createSqliteStore({ filename: file, synchronous: "NORMAL" });
    await a.migrate();
    const b = await createSqliteStore({ filename: file, synchronous: "NORMAL" });
    await b.migrate();
    for (let i = 0; i < 3; i++) {
      await a.appendAudit([draft("system.started", { reason: `a${i}` })]);
      await b.appendAudit([draft("system.started", { reason: `b${i}` })]);
    }
    await Promise.all([a.appendAudit([draft("system.started")]), b.appendAudit([draft("system.started")])]);
    const events = await a.scanAudit(0, 100);
    expect(verifyChain(events)).toEqual({ ok: true, events: 8 });
    expect(await b.auditHead()).toEqual({ seq: 8, hash: events[7]?.hash });
    await a.close();
    await b.close();
  });

  it("deleteExpiredNonces works in slices and yields between them: a write queued meanwhile commits before it ends", async () => {
    const s = await createSqliteStore({ filename: path.join(dir, "cleanup.db"), synchronous: "NORMAL" });
    await s.migrate();
    const expired = Array.from({ length: 2500 }, () => ({
      ...nonceRecord({ expiresAt: T0 + 60_000 }, T0),
      expiresAt: T0 + 1,
    }));
    await Promise.all(expired.map((n) => s.insertNonce(n, draft("nonce.issued", { nonceId: n.id }))));
    const order: string[] = [];
    const cleanup = s.deleteExpiredNonces(T0 + 2, 2200).then((n) => {
      order.push("cleanup");
      return n;
    });
    const write = s.appendAudit([draft("system.started")]).then(() => order.push("write"));
    await Promise.all([cleanup, write]);
    expect(await cleanup).toBe(2200);
    expect(order).toEqual(["write", "cleanup"]);
    expect(await s.deleteExpiredNonces(T0 + 2, 10_000)).toBe(300);
    expect(await s.deleteExpiredNonces(T0 + 2, 10_000)).toBe(0);
    await s.close();
  });
});
