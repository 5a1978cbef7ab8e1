import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { decideStatement, listApprovalsStatement } from "./approval-rows.js";
import { createSqliteStore } from "./sqlite.js";
import { TRIM_BYTES } from "./sqlite-checkpointer.js";
import * as sql from "./sqlite-sql.js";
import type { Store } from "./store.js";

const STORE_DIR = path.dirname(fileURLToPath(import.meta.url));
const MODULE = "sqlite-sql.ts";

/** A string or template literal passed straight to prepare/pragma/exec. */
const LITERAL_CALL = /\.(prepare|pragma|exec)\(\s*["'`]/g;
/** A literal that starts as SQL does (uppercase keyword, as the store writes it). */
const SQL_LITERAL =
  /["'`]\s*(SELECT|INSERT|UPDATE|DELETE|WITH|PRAGMA|BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|CREATE|DROP|ALTER|VACUUM)\b/g;

// Comments are blanked, not removed, so the line numbers reported stay right.
const withoutComments = (src: string) =>
  src.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, " ")).replace(/^(\s*)\/\/.*$/gm, "$1");

/** Where `re` matches (across lines: a call formatted as `.prepare(\n  "…"` counts), as `line: text`. */
const hits = (src: string, re: RegExp) => {
  const text = withoutComments(src);
  const lines = text.split("\n");
  return [...text.matchAll(new RegExp(re.source, "g"))].map((m) => {
    const n = text.slice(0, m.index).split("\n").length;
    return `${n}: ${lines[n - 1]?.trim()}`;
  });
};

/** src/store/*.ts outside the module: not tests, not migrations/ (a subdirectory, not listed). */
function storeSources(): { file: string; src: string }[] {
  return readdirSync(STORE_DIR)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts") && f !== MODULE)
    .map((file) => ({ file, src: readFileSync(path.join(STORE_DIR, file), "utf8") }));
}

describe("sqlite-sql.ts holds every SQLite statement of the store", () => {
  it("the checks below catch what they look for", () => {
    expect(hits('db.prepare("SELECT 1").get();', LITERAL_CALL)).toHaveLength(1);
    expect(hits("db.pragma(`synchronous = FULL`);", LITERAL_CALL)).toHaveLength(1);
    expect(hits("db.exec('DELETE FROM t');", LITERAL_CALL)).toHaveLength(1);
    expect(hits('db\n  .prepare(\n    "SELECT 1",\n  )', LITERAL_CALL)).toEqual(["2: .prepare("]);
    expect(hits("db.prepare(SCHEMA.ping).get();", LITERAL_CALL)).toHaveLength(0);
    expect(hits('const set = "UPDATE services SET x = ?";', SQL_LITERAL)).toHaveLength(1);
    expect(hits("// SELECT in a comment\n/* `PRAGMA x` */", SQL_LITERAL)).toHaveLength(0);
    expect(storeSources().map((s) => s.file)).toEqual(expect.arrayContaining(["sqlite.ts", "sqlite-chain.ts"]));
  });

  it("no prepare/pragma/exec with a literal in src/store outside the module", () => {
    const found = storeSources().flatMap(({ file, src }) => hits(src, LITERAL_CALL).map((h) => `${file}:${h}`));
    expect(found).toEqual([]);
  });

  it("no SQL literal at all in the SQLite-only modules (a text kept in a local and prepared later)", () => {
    const sqliteOnly = storeSources().filter(({ file }) => file.startsWith("sqlite") || file.endsWith("-sqlite.ts"));
    expect(sqliteOnly.length).toBeGreaterThan(5);
    const found = sqliteOnly.flatMap(({ file, src }) => hits(src, SQL_LITERAL).map((h) => `${file}:${h}`));
    expect(found).toEqual([]);
  });
});

describe("every statement in sqlite-sql.ts prepares against a freshly migrated database", () => {
  let dir: string;
  let file: string;
  let store: Store;
  let db: Database.Database;
  let pragmaNames: Set<string>;

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "an-sqlite-sql-"));
    file = path.join(dir, "an.db");
    store = await createSqliteStore({ filename: file, synchronous: "NORMAL" });
    await store.migrate();
    db = new Database(file);
    pragmaNames = new Set((db.pragma("pragma_list") as { name: string }[]).map((r) => r.name));
  });

  afterEach(async () => {
    db.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Prepares one text; a pragma must also be one SQLite knows (an unknown pragma is silently a no-op). */
  const check = (name: string, text: string) => {
    expect(() => db.prepare(text), name).not.toThrow();
    const pragma = /^\s*PRAGMA\s+(\w+)/i.exec(text);
    if (pragma) expect(pragmaNames, name).toContain(pragma[1]?.toLowerCase());
  };

  it("each group's texts; pragmas as `db.pragma` runs them", () => {
    const functions: Record<string, () => string[]> = {
      synchronousPragma: () => [sql.synchronousPragma("NORMAL"), sql.synchronousPragma("FULL")],
      autocheckpointPragma: () => [sql.autocheckpointPragma(1000)],
      journalSizeLimitPragma: () => [sql.journalSizeLimitPragma(TRIM_BYTES)],
    };
    let texts = 0;
    for (const [exported, value] of Object.entries(sql)) {
      if (typeof value === "function") {
        if (exported === "prepare") continue;
        // A new builder needs sample arguments here, so its output is prepared too.
        expect(Object.keys(functions), `builder ${exported}`).toContain(exported);
        for (const p of functions[exported]?.() ?? []) check(exported, `PRAGMA ${p}`);
        continue;
      }
      expect(typeof value, exported).toBe("object");
      for (const [name, text] of Object.entries(value as Record<string, unknown>)) {
        expect(typeof text, `${exported}.${name}`).toBe("string");
        check(`${exported}.${name}`, exported === "PRAGMAS" ? `PRAGMA ${text}` : (text as string));
        texts += 1;
      }
    }
    expect(texts).toBeGreaterThan(40);
  });

  it("the per-request bundle prepares in one go", () => {
    const st = sql.prepare(db);
    expect(Object.keys(st)).toEqual(expect.arrayContaining(["nonceForUse", "countUse", "insertNonce", "head"]));
    for (const [name, s] of Object.entries(st)) expect(s.source, name).toBeTypeOf("string");
  });

  it("the approval builders shared with PostgreSQL prepare on SQLite too", () => {
    const now = Date.now();
    for (const status of ["approved", "denied", "expired"] as const) {
      check(`decide ${status}`, decideStatement("apr_x", { status, now, by: "key_x", comment: null }).sql);
    }
    const filter = { status: "pending", requestedBy: "key_x", pendingDueBy: now } as const;
    check("list", listApprovalsStatement(filter, { limit: 10 }).sql);
    check("list unfiltered", listApprovalsStatement({}, { limit: 10 }).sql);
  });
});
