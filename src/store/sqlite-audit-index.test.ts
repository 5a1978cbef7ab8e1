import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { Kysely, SqliteDialect } from "kysely";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { nonceDraft } from "../app/audit-draft.js";
import type { AuditDraft, NonceRecord } from "../core/types.js";
import { auditDraftRecord, nonceRecord } from "../test/records.js";
import { MIGRATIONS, MIGRATIONS_TABLE_SQLITE } from "./migrations/index.js";
import { listAuditIndexedQuery } from "./queries.js";
import { auditCursor } from "./rows.js";
import type { Database as Schema } from "./schema.js";
import { createSqliteStore } from "./sqlite.js";
import { AUDIT_INDEX_SLICE } from "./sqlite-audit-index.js";
import { writeTx } from "./sqlite-batch.js";
import { SqliteChain } from "./sqlite-chain.js";
import { openSqlite } from "./sqlite-open.js";
import { AUDIT_INDEX } from "./sqlite-sql.js";
import type { AuditFilter, Store } from "./store.js";

const T0 = Date.UTC(2026, 0, 1);
const OLD_INDEXES = [
  "audit_nonce_idx",
  "audit_agent_idx",
  "audit_task_idx",
  "audit_type_idx",
  "audit_issued_by_idx",
  "audit_actor_idx",
];

const event = (i: number, over: Partial<AuditDraft> = {}): AuditDraft =>
  auditDraftRecord(
    i % 3 === 0 ? "nonce.used" : "nonce.completed",
    {
      actor: { type: "api_key", id: `key_${i % 4}`, name: "k" },
      agent: `agent-${i % 5}`,
      task: `task-${i % 7}`,
      nonceId: `nce_${i % 11}`,
      service: i % 2 === 0 ? "stripe" : "github",
      ...over,
    },
    T0 + i,
  );

const nonce = (): NonceRecord =>
  nonceRecord({ scopes: ["read"], routes: ["GET /v1/x"], task: "t1", issuedBy: "key_issuer" }, T0);

/** Appends events through the store's own chain code on a raw connection, without any catch-up. */
function appendRaw(db: Database.Database, drafts: AuditDraft[]): void {
  const chain = new SqliteChain(db);
  writeTx(db, chain, () => chain.append(drafts));
}

const indexesOf = (db: Database.Database, table: string) =>
  db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL")
    .pluck()
    .all(table) as string[];

const seqsWhere = (n: number, keep: (seq: number) => boolean) =>
  Array.from({ length: n }, (_, i) => i + 1).filter(keep);

const count = (db: Database.Database, table: string) =>
  db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;

describe("sqlite audit_index", () => {
  let dir: string;
  let file: string;
  let store: Store | undefined;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "an-audit-index-"));
    file = path.join(dir, "agent-nonce.db");
  });
  afterEach(async () => {
    await store?.close();
    store = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it("the gateway's consume writes audit_events only; audit_index follows on the next filtered read", async () => {
    store = await createSqliteStore({ filename: file, synchronous: "NORMAL" });
    await store.migrate();
    const n = nonce();
    await store.insertNonce(n, event(0, { type: "nonce.issued", nonceId: n.id }));
    const raw = new Database(file, { readonly: true });
    try {
      const at = { now: T0 + 1, sourceIp: null, requestId: "req_1" };
      const r = await store.consumeNonce(
        n.tokenKey,
        T0 + 1,
        (x) => nonceDraft("nonce.used", x, null, null, at),
        () => null,
      );
      expect(r.ok).toBe(true);
      await store.appendAudit([nonceDraft("nonce.completed", n, null, null, at)]);
      expect(count(raw, "audit_events")).toBe(3);
      expect(count(raw, "audit_index")).toBe(0);

      const page = await store.listAudit({ nonceId: n.id }, { limit: 10 });
      expect(page.items.map((e) => e.type)).toEqual(["nonce.issued", "nonce.used", "nonce.completed"]);
      expect(count(raw, "audit_index")).toBe(3);
      // issued_by is derived at append time and copied: issuer scoping sees the gateway's events.
      const issuer = await store.listAudit({ issuedBy: "key_issuer" }, { limit: 10 });
      expect(issuer.items).toHaveLength(3);
    } finally {
      raw.close();
    }
  });

  it("the server's timer indexes the tail off the request path, and close() indexes the rest", async () => {
    store = await createSqliteStore({ filename: file, synchronous: "NORMAL", backgroundAuditIndex: true });
    await store.migrate();
    const raw = new Database(file, { readonly: true });
    try {
      await store.appendAudit(Array.from({ length: 2500 }, (_, i) => event(i + 1)));
      expect(count(raw, "audit_index")).toBe(0);
      // No read asks for it: the timer does it, in slices.
      await vi.waitFor(() => expect(count(raw, "audit_index")).toBe(2500), { timeout: 5000, interval: 10 });
      await store.appendAudit(Array.from({ length: 30 }, (_, i) => event(i + 2501)));
      await store.close();
      store = undefined;
      expect(count(raw, "audit_index")).toBe(2530);
    } finally {
      raw.close();
    }
  });

  it("a read behind a long tail yields between slices: a write queued meanwhile commits, and the read sees it", async () => {
    store = await createSqliteStore({ filename: file, synchronous: "NORMAL" });
    await store.migrate();
    await store.appendAudit(Array.from({ length: 4 * AUDIT_INDEX_SLICE }, (_, i) => event(i + 1)));
    const read = store.listAudit({}, { limit: 100_000 });
    const write = store.appendAudit([event(0, { type: "credential.set" })]);
    const [page, [written]] = await Promise.all([read, write]);
    expect(page.items).toHaveLength(4 * AUDIT_INDEX_SLICE + 1);
    expect(page.items.at(-1)?.seq).toBe(written?.seq);
  });

  it("a database migrated from version 4 has audit_index backfilled and no secondary index on audit_events", async () => {
    const db = openSqlite(file, "NORMAL");
    db.exec(MIGRATIONS_TABLE_SQLITE);
    for (const m of MIGRATIONS.filter((x) => x.version <= 4)) {
      for (const s of m.sqlite) db.exec(s);
      db.prepare("INSERT INTO schema_migrations VALUES (?, ?, ?)").run(m.version, m.name, T0);
    }
    appendRaw(
      db,
      Array.from({ length: 300 }, (_, i) => event(i + 1)),
    );
    expect(indexesOf(db, "audit_events").sort()).toEqual([...OLD_INDEXES].sort());
    db.close();

    store = await createSqliteStore({ filename: file, synchronous: "NORMAL" });
    await store.migrate();
    const after = new Database(file, { readonly: true });
    try {
      expect(indexesOf(after, "audit_events")).toEqual([]);
      expect(indexesOf(after, "audit_index").sort()).toEqual(
        OLD_INDEXES.map((n) => n.replace("audit_", "audit_index_")).sort(),
      );
      // Backfilled: every event, every filterable column, before any catch-up.
      const diff = after
        .prepare(
          `SELECT count(*) FROM (
             SELECT seq, time, type, actor_id, agent, task, nonce_id, service, issued_by FROM audit_events
             EXCEPT SELECT seq, time, type, actor_id, agent, task, nonce_id, service, issued_by FROM audit_index)`,
        )
        .pluck()
        .get();
      expect(diff).toBe(0);
      expect(count(after, "audit_index")).toBe(300);
    } finally {
      after.close();
    }
    const page = await store.listAudit({ task: "task-3" }, { limit: 1000 });
    expect(page.items.map((e) => e.seq)).toEqual(seqsWhere(300, (s) => s % 7 === 3));
  });

  it("survives a crash between commit and catch-up: the next start indexes the tail", async () => {
    store = await createSqliteStore({ filename: file, synchronous: "NORMAL" });
    await store.migrate();
    await store.appendAudit(Array.from({ length: 50 }, (_, i) => event(i + 1)));
    await store.close();
    store = undefined;
    // A process that committed events and died before any catch-up (its close never ran).
    const db = openSqlite(file, "NORMAL");
    appendRaw(
      db,
      Array.from({ length: 2500 }, (_, i) => event(i + 51)),
    );
    expect(count(db, "audit_index")).toBe(50);
    db.close();

    store = await createSqliteStore({ filename: file, synchronous: "NORMAL" });
    await store.migrate();
    // One read sees the whole tail (several slices), then paging does too.
    expect(2500).toBeGreaterThan(2 * AUDIT_INDEX_SLICE);
    const one = await store.listAudit({ agent: "agent-2" }, { limit: 10_000 });
    expect(one.items.map((e) => e.seq)).toEqual(seqsWhere(2550, (s) => s % 5 === 2));
    const seqs: number[] = [];
    let cursor: string | undefined;
    do {
      const p = await store.listAudit({ agent: "agent-2" }, { limit: 97, cursor });
      seqs.push(...p.items.map((e) => e.seq));
      cursor = p.nextCursor ?? undefined;
    } while (cursor !== undefined);
    expect(seqs).toEqual(seqsWhere(2550, (s) => s % 5 === 2));
  });

  it("when the catch-up cannot write, a filtered read answers from audit_events and warns", async () => {
    const warnings: string[] = [];
    store = await createSqliteStore({ filename: file, synchronous: "NORMAL", onWarning: (m) => warnings.push(m) });
    await store.migrate();
    await store.appendAudit(Array.from({ length: 40 }, (_, i) => event(i + 1)));
    // Another connection makes every insert into audit_index fail (as a read-only or full disk would).
    const other = new Database(file);
    other.exec("CREATE TRIGGER audit_index_refuse BEFORE INSERT ON audit_index BEGIN SELECT RAISE(ABORT, 'no'); END");
    try {
      for (const limit of [100, 3]) {
        const seqs: number[] = [];
        let cursor: string | undefined;
        do {
          const p = await store.listAudit({ task: "task-2" }, { limit, cursor });
          seqs.push(...p.items.map((e) => e.seq));
          cursor = p.nextCursor ?? undefined;
        } while (cursor !== undefined);
        expect(seqs).toEqual(seqsWhere(40, (s) => s % 7 === 2));
      }
      expect(count(other, "audit_index")).toBe(0);
    } finally {
      other.exec("DROP TRIGGER audit_index_refuse");
      other.close();
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^audit index catch-up failed \(SQLITE_CONSTRAINT_TRIGGER\)/);
    // Once writes succeed again the next read catches up.
    await store.listAudit({ task: "task-2" }, { limit: 1 });
    const raw = new Database(file, { readonly: true });
    expect(count(raw, "audit_index")).toBe(40);
    raw.close();
  });

  it("catch-up plan: no ephemeral table (a temp file under /var/tmp per catch-up) and no scan", async () => {
    store = await createSqliteStore({ filename: file, synchronous: "NORMAL" });
    await store.migrate();
    const db = new Database(file, { readonly: true });
    try {
      for (const [name, sql] of Object.entries(AUDIT_INDEX)) {
        const params = (sql.match(/\?/g) ?? []).map(() => 1);
        const ops = (db.prepare(`EXPLAIN ${sql}`).all(...params) as { opcode: string }[]).map((r) => r.opcode);
        expect(ops, name).not.toContain("OpenEphemeral");
        expect(ops, name).not.toContain("SorterOpen");
        const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[])
          .map((r) => r.detail)
          .join("\n");
        expect(plan, name).not.toMatch(/SCAN audit_events|TEMP B-TREE/);
      }
    } finally {
      db.close();
    }
  });

  it("query plan: the page's seqs come from audit_index's indexes, the rows by primary key", async () => {
    store = await createSqliteStore({ filename: file, synchronous: "NORMAL" });
    await store.migrate();
    const db = new Database(file, { readonly: true });
    const k = new Kysely<Schema>({ dialect: new SqliteDialect({ database: db }) });
    const plan = (f: AuditFilter, cursor?: string) => {
      const q = listAuditIndexedQuery(k, f, { limit: 50, cursor }).compile();
      const rows = db.prepare(`EXPLAIN QUERY PLAN ${q.sql}`).all(...(q.parameters as unknown[])) as {
        detail: string;
      }[];
      return rows.map((r) => r.detail).join("\n");
    };
    try {
      // Index choices as documented in migration 004; only the issuer OR merges two indexes and sorts.
      const cases: [AuditFilter, RegExp, boolean][] = [
        [{ nonceId: "nce_1" }, /SEARCH audit_index USING COVERING INDEX audit_index_nonce_idx \(nonce_id=\?/, false],
        [{ task: "t" }, /SEARCH audit_index USING COVERING INDEX audit_index_task_idx \(task=\?/, false],
        [{ agent: "a" }, /SEARCH audit_index USING COVERING INDEX audit_index_agent_idx \(agent=\?/, false],
        [{ type: "credential.set" }, /SEARCH audit_index USING COVERING INDEX audit_index_type_idx \(type=\?/, false],
        [
          { issuedBy: "key_x" },
          /MULTI-INDEX OR\n.*\nSEARCH audit_index USING INDEX audit_index_issued_by_idx .*\n.*\nSEARCH audit_index USING INDEX audit_index_actor_idx/,
          true,
        ],
        [{ service: "stripe", type: "credential.set" }, /SEARCH audit_index USING INDEX audit_index_type_idx/, false],
        [{ task: "t", issuedBy: "key_x" }, /SEARCH audit_index USING INDEX audit_index_task_idx/, false],
      ];
      for (const [f, expected, sorts] of cases) {
        for (const cursor of [undefined, auditCursor.encode(42)]) {
          const p = plan(f, cursor);
          const name = `${JSON.stringify(f)} cursor=${cursor}`;
          expect(p, name).toMatch(expected);
          expect(p, name).toMatch(/^SEARCH audit_events USING INTEGER PRIMARY KEY \(rowid=\?\)$/m);
          expect(p, name).not.toMatch(/SCAN audit_events|SCAN audit_index/);
          expect(/TEMP B-TREE/.test(p), name).toBe(sorts);
        }
      }
      // No useful index (004: service alone, time windows): a seq-order scan of the narrow table, no sort.
      for (const f of [{ service: "stripe" }, { since: T0, until: T0 + 1 }] as AuditFilter[]) {
        const p = plan(f);
        expect(p).toMatch(/^SCAN audit_index$/m);
        expect(p).toMatch(/^SEARCH audit_events USING INTEGER PRIMARY KEY \(rowid=\?\)$/m);
        expect(p).not.toMatch(/TEMP B-TREE/);
        expect(p).not.toMatch(/SCAN audit_events/);
      }
    } finally {
      db.close();
    }
  });
});
