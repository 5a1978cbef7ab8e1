import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { nonceDraft } from "../app/audit-draft.js";
import { newId } from "../core/ids.js";
import { generateToken, tokenKey } from "../core/tokens.js";
import type { AuditDraft, AuditEvent, AuditType, NonceRecord } from "../core/types.js";
import { createSqliteStore } from "./sqlite.js";
import { catchUpAuditIndex } from "./sqlite-audit-index.js";
import type { AuditFilter, Store } from "./store.js";

/**
 * Model test: listAudit on SQLite (audit_index + catch-up) against a brute-force filter over every event, with
 * the index caught up at random points by another connection (a CLI on the same file), tails from empty to
 * several slices long, retention in the middle, random filters and page sizes.
 */
const T0 = Date.UTC(2026, 0, 1);
const SEED = Number.parseInt(process.env.AUDIT_MODEL_SEED ?? randomBytes(4).toString("hex"), 16);

function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rnd = prng(SEED);
const int = (n: number) => Math.floor(rnd() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
const maybe = <T>(p: number, v: () => T): T | null => (rnd() < p ? v() : null);

const AGENTS = ["agent-a", "agent-b", "agent-c", "agent-d", "agent-e"];
const TASKS = ["task-1", "task-2", "task-3", "task-4", "task-5", "task-6", "task-7"];
const SERVICES = ["stripe", "github", "openai"];
const ISSUERS = ["key_iss1", "key_iss2", "key_iss3"];
const ACTORS = [...ISSUERS, "key_admin", "system"];
const TYPES: AuditType[] = [
  "nonce.used",
  "nonce.completed",
  "nonce.rejected",
  "nonce.revoked",
  "credential.set",
  "key.created",
  "nonce.issue_denied",
];

describe(`sqlite listAudit model (AUDIT_MODEL_SEED=${SEED.toString(16)})`, () => {
  let dir: string;
  let store: Store;
  let raw: Database.Database;
  const issuerOf = new Map<string, string>();
  const nonces: NonceRecord[] = [];

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "an-audit-model-"));
    const file = path.join(dir, "agent-nonce.db");
    store = await createSqliteStore({ filename: file, synchronous: "NORMAL" });
    await store.migrate();
    raw = new Database(file);
    raw.pragma("busy_timeout = 5000");
  });
  afterEach(async () => {
    raw.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const time = () => T0 + int(100_000);

  function randomDraft(): AuditDraft {
    const n = maybe(0.7, () => pick(nonces));
    const actorId = pick([...ACTORS, n?.id ?? "system"]);
    return {
      id: newId("evt", T0),
      time: time(),
      type: pick(TYPES),
      actor: rnd() < 0.1 ? null : { type: actorId.startsWith("key_") ? "api_key" : "system", id: actorId, name: "x" },
      agent: maybe(0.8, () => pick(AGENTS)),
      task: maybe(0.7, () => pick(TASKS)),
      // Some events name a nonce that does not exist: their issued_by is null.
      nonceId: n?.id ?? maybe(0.2, () => "nce_unknown"),
      service: maybe(0.8, () => pick(SERVICES)),
      scopes: null,
      reason: null,
      request: null,
      sourceIp: null,
      data: null,
    };
  }

  async function addNonce(): Promise<void> {
    const issuedBy = pick(ISSUERS);
    const n: NonceRecord = {
      id: newId("nce", T0),
      tokenKey: tokenKey(generateToken("an", T0)),
      service: pick(SERVICES),
      scopes: ["read"],
      routes: ["GET /v1/x"],
      agent: pick(AGENTS),
      task: maybe(0.8, () => pick(TASKS)),
      maxUses: null,
      uses: 0,
      constraints: null,
      metadata: null,
      rate: null,
      issuedBy,
      createdAt: T0,
      expiresAt: T0 + 10_000_000,
      revokedAt: null,
    };
    await store.insertNonce(n, { ...randomDraft(), type: "nonce.issued", nonceId: n.id, agent: n.agent });
    issuerOf.set(n.id, issuedBy);
    nonces.push(n);
  }

  /** `count` events through the store, as the gateway and control plane write them (several per commit). */
  async function write(count: number): Promise<void> {
    const jobs: Promise<unknown>[] = [];
    let left = count;
    while (left > 0) {
      const r = rnd();
      if (r < 0.3) {
        const n = pick(nonces);
        const at = { now: time(), sourceIp: null, requestId: newId("req", T0) };
        jobs.push(
          store.consumeNonce(
            n.tokenKey,
            T0,
            (x) => nonceDraft("nonce.used", x, null, null, at),
            () => null,
          ),
        );
        left -= 1;
      } else {
        const k = Math.min(left, 1 + int(12));
        jobs.push(store.appendAudit(Array.from({ length: k }, randomDraft)));
        left -= k;
      }
      if (jobs.length >= 64) await Promise.all(jobs.splice(0));
    }
    await Promise.all(jobs);
  }

  function randomFilter(): AuditFilter {
    const f: AuditFilter = {};
    if (rnd() < 0.3) f.agent = pick([...AGENTS, "agent-none"]);
    if (rnd() < 0.3) f.task = pick(TASKS);
    if (rnd() < 0.25) f.nonceId = rnd() < 0.9 && nonces.length > 0 ? pick(nonces).id : "nce_unknown";
    if (rnd() < 0.25) f.service = pick(SERVICES);
    if (rnd() < 0.3) f.type = pick([...TYPES, "nonce.issued" as AuditType]);
    if (rnd() < 0.2) f.since = time();
    if (rnd() < 0.2) f.until = time();
    if (rnd() < 0.3) f.issuedBy = pick(ACTORS);
    return f;
  }

  function matches(e: AuditEvent, f: AuditFilter): boolean {
    const issuedBy = e.nonceId === null ? null : (issuerOf.get(e.nonceId) ?? null);
    return (
      (f.agent === undefined || e.agent === f.agent) &&
      (f.task === undefined || e.task === f.task) &&
      (f.nonceId === undefined || e.nonceId === f.nonceId) &&
      (f.service === undefined || e.service === f.service) &&
      (f.type === undefined || e.type === f.type) &&
      (f.since === undefined || e.time >= f.since) &&
      (f.until === undefined || e.time < f.until) &&
      (f.issuedBy === undefined || issuedBy === f.issuedBy || e.actor?.id === f.issuedBy)
    );
  }

  async function checkQueries(all: AuditEvent[], queries: number): Promise<void> {
    for (let q = 0; q < queries; q++) {
      const f = randomFilter();
      const expected = all.filter((e) => matches(e, f));
      // The round's first read in one page (the whole tail must be indexed before it), then small pages where
      // they stay few: at most ~100 pages per query.
      const limit = q === 0 ? 1_000_000 : Math.max(pick([1, 2, 3, 7, 25, 100, 1000]), Math.ceil(expected.length / 100));
      const got: AuditEvent[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const p = await store.listAudit(f, { limit, cursor });
        expect(p.items.length).toBeLessThanOrEqual(limit);
        if (p.nextCursor !== null) expect(p.items).toHaveLength(limit);
        got.push(...p.items);
        cursor = p.nextCursor ?? undefined;
        pages += 1;
        expect(pages).toBeLessThan(expected.length + 3);
      } while (cursor !== undefined);
      expect(
        got.map((e) => e.seq),
        JSON.stringify({ f, limit }),
      ).toEqual(expected.map((e) => e.seq));
      expect(got).toEqual(expected);
    }
  }

  const scanAll = () => store.scanAudit(0, 1_000_000);
  const indexed = () => raw.prepare("SELECT count(*) FROM audit_index").pluck().get() as number;

  it("pages through exactly the events a brute-force filter finds", { timeout: 60_000 }, async () => {
    for (let i = 0; i < 24; i++) await addNonce();
    // Per round: how many events, and whether another connection catches up part of the tail first.
    const rounds = [300, 0, 2600, 150, 700, 1, 400, 0, 900];
    let prunedAt = -1;
    for (let r = 0; r < rounds.length; r++) {
      await write(rounds[r] as number);
      const before = await scanAll();
      const tail =
        (before.at(-1)?.seq ?? 0) - (raw.prepare("SELECT max(seq) FROM audit_index").pluck().get() as number);
      if (rnd() < 0.6 && tail > 0) catchUpAuditIndex(raw, 1 + int(tail));
      if (r === 5) {
        // Retention in the middle, with part of the log not yet indexed.
        await write(200);
        const head = await store.auditHead();
        prunedAt = Math.floor(head.seq / 3);
        expect(indexed()).toBeLessThan(head.seq);
        while ((await store.pruneAudit(prunedAt, 250)) === 250);
      }
      const all = await scanAll();
      if (prunedAt >= 0) expect(all[0]?.seq).toBe(prunedAt + 1);
      await checkQueries(all, 30);
      // After a read the index holds exactly the events: nothing missing, nothing pruned left behind.
      const diff = raw
        .prepare(
          `SELECT (SELECT count(*) FROM (SELECT seq FROM audit_events EXCEPT SELECT seq FROM audit_index))
                + (SELECT count(*) FROM (SELECT seq FROM audit_index EXCEPT SELECT seq FROM audit_events))`,
        )
        .pluck()
        .get();
      expect(diff).toBe(0);
    }
    expect((await scanAll()).length).toBeGreaterThan(3000);
  });
});
