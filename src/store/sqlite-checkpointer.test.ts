import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { newId } from "../core/ids.js";
import type { AuditDraft } from "../core/types.js";
import { createSqliteStore } from "./sqlite.js";
import { startCheckpointer, TRIM_BYTES } from "./sqlite-checkpointer.js";

const T0 = Date.UTC(2026, 0, 1);
const DIST_SQLITE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../dist/store/sqlite.js");

const draft = (i: number): AuditDraft => ({
  id: newId("evt", T0 + i),
  time: T0 + i,
  type: "service.updated",
  actor: { type: "system", id: "system", name: "test" },
  agent: null,
  task: null,
  nonceId: null,
  service: `svc-${i}`,
  scopes: null,
  reason: null,
  request: null,
  sourceIp: null,
  data: { i, pad: "x".repeat(500) },
});

describe("background WAL checkpoints", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "an-ckpt-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("the server's connection never checkpoints itself; the worker moves committed pages into the database file", async () => {
    const file = path.join(dir, "an.db");
    const store = await createSqliteStore({ filename: file, synchronous: "NORMAL", backgroundCheckpoints: true });
    await store.migrate();
    const before = statSync(file).size;
    for (let i = 0; i < 2000; i++) await store.appendAudit([draft(i)]);
    // Only a checkpoint writes the main file (the connection's own automatic checkpoints are off).
    await expect.poll(() => statSync(file).size, { timeout: 5_000 }).toBeGreaterThan(before + 500 * 1000);
    await store.close();
    const db = new Database(file, { readonly: true });
    expect((db.prepare("SELECT count(*) AS n FROM audit_events").get() as { n: number }).n).toBeGreaterThanOrEqual(
      2000,
    );
    db.close();
  });

  it("turns the connection's automatic checkpoints off while it runs and back on when it stops", async () => {
    const file = path.join(dir, "an.db");
    const db = new Database(file);
    db.pragma("journal_mode = WAL");
    const warnings: string[] = [];
    const c = startCheckpointer(db, file, (w) => warnings.push(w));
    expect(c).not.toBeNull();
    expect(db.pragma("wal_autocheckpoint", { simple: true })).toBe(0);
    // No truncation in the server's commits while the worker runs (it stalled the event loop; the worker trims).
    expect(db.pragma("journal_size_limit", { simple: true })).toBe(-1);
    await c?.stop();
    expect(db.pragma("wal_autocheckpoint", { simple: true })).toBe(1000);
    expect(db.pragma("journal_size_limit", { simple: true })).toBe(TRIM_BYTES);
    expect(warnings).toEqual([]);
    db.close();
  });

  it("trims a WAL that grew past the limit once writes stop, never while they go on", async () => {
    const file = path.join(dir, "an.db");
    const db = new Database(file);
    db.pragma("journal_mode = WAL");
    db.exec("CREATE TABLE t (v BLOB)");
    const insert = db.prepare("INSERT INTO t (v) VALUES (?)");
    const trimBytes = 256 * 1024;
    let trims = 0;
    const c = startCheckpointer(db, file, () => undefined, { trimBytes, onTrim: () => trims++ });
    const wal = () => statSync(`${file}-wal`).size;
    try {
      // ~1.5 s of commits of 300 KB, one every 5 ms: the WAL is never idle for the worker's ~1 s.
      const until = Date.now() + 1_500;
      while (Date.now() < until) {
        insert.run(Buffer.alloc(300 * 1024, 7));
        await new Promise((r) => setTimeout(r, 5));
      }
      expect(wal()).toBeGreaterThan(trimBytes);
      expect(trims).toBe(0);
      // Idle: the worker truncates the WAL (to zero bytes) within about a second.
      await expect.poll(() => trims, { timeout: 5_000 }).toBeGreaterThan(0);
      expect(wal()).toBe(0);
      // Nothing was lost, and writing goes on normally afterwards.
      insert.run(Buffer.alloc(10, 1));
      expect((db.prepare("SELECT count(*) AS n FROM t").get() as { n: number }).n).toBeGreaterThan(1);
    } finally {
      await c?.stop();
      db.close();
    }
  });

  it("close() waits for the worker's answer: the process does not exit under the awaiting caller", () => {
    // A separate process (built dist/), as in the bench that found it: with nothing but the unref'd worker left,
    // node ended the process with exit code 13 while close() still waited for a worker that had not answered yet
    // (still starting here; in the bench, busy checkpointing a bulk load's WAL).
    const file = path.join(dir, "an.db");
    const script = `
      const { createSqliteStore } = await import(${JSON.stringify(DIST_SQLITE)});
      const store = await createSqliteStore({ filename: ${JSON.stringify(file)}, synchronous: "NORMAL", backgroundCheckpoints: true });
      await store.migrate();
      await store.close();
      console.log("closed");
    `;
    for (let i = 0; i < 3; i++) {
      const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
        encoding: "utf8",
        timeout: 60_000,
      });
      expect(r.stderr).toBe("");
      expect(r.stdout.trim()).toBe("closed");
      expect(r.status).toBe(0);
    }
  });

  it("a worker that dies hands checkpoints back to the connection and says so", async () => {
    const file = path.join(dir, "an.db");
    const db = new Database(file);
    db.pragma("journal_mode = WAL");
    const warnings: string[] = [];
    // The worker cannot open this path, so it fails right after starting.
    const c = startCheckpointer(db, path.join(dir, "missing", "an.db"), (w) => warnings.push(w));
    expect(c).not.toBeNull();
    await expect.poll(() => warnings.length, { timeout: 5_000 }).toBeGreaterThan(0);
    expect(warnings[0]).toMatch(/checkpoint worker/);
    expect(db.pragma("wal_autocheckpoint", { simple: true })).toBe(1000);
    expect(db.pragma("journal_size_limit", { simple: true })).toBe(TRIM_BYTES);
    await c?.stop();
    db.close();
  });

  it("an in-memory database gets no worker", () => {
    const db = new Database(":memory:");
    expect(startCheckpointer(db, ":memory:", () => undefined)).toBeNull();
    expect(db.pragma("wal_autocheckpoint", { simple: true })).toBe(1000);
    db.close();
  });
});
