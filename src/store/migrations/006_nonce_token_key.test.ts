import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { verifyChain } from "../../core/audit-chain.js";
import { newId } from "../../core/ids.js";
import { generateToken, hashToken, isWellFormed, tokenKey } from "../../core/tokens.js";
import type { AuditDraft, NonceRecord } from "../../core/types.js";
import { insertLegacyNonce, type LegacyDb, legacyDialects } from "../../test/legacy-db.js";
import { nonceRecord } from "../../test/records.js";
import { legacyNonceToken } from "../../test/tokens.js";
import type { ConsumeRefusal, Store } from "../store.js";
import { MIGRATIONS } from "./index.js";

const T0 = Date.UTC(2026, 0, 1);

const draft = (type: AuditDraft["type"], n: NonceRecord | null): AuditDraft => ({
  id: newId("evt", T0),
  time: T0,
  type,
  actor: { type: "system", id: "test", name: "test" },
  agent: n?.agent ?? null,
  task: n?.task ?? null,
  nonceId: n?.id ?? null,
  service: n?.service ?? null,
  scopes: null,
  reason: null,
  request: null,
  sourceIp: null,
  data: null,
});
const used = (n: NonceRecord) => draft("nonce.used", n);
const rejected = (_r: ConsumeRefusal, n: NonceRecord | null) => (n ? draft("nonce.rejected", n) : null);

const NONCE_INDEXES = [
  "nonces_agent_idx",
  "nonces_expires_at_idx",
  "nonces_issued_by_idx",
  "nonces_service_idx",
  "nonces_task_idx",
];

/** Every index on nonces as (name, unique, columns), read from the catalog. */
async function nonceIndexes(db: LegacyDb, dialect: string) {
  if (dialect === "sqlite") {
    const list = await db.query<{ name: string; unique: number }>("PRAGMA index_list(nonces)");
    const out = [];
    for (const ix of list) {
      const cols = await db.query<{ name: string }>(`PRAGMA index_info("${ix.name}")`);
      out.push({ name: ix.name, unique: ix.unique === 1, columns: cols.map((c) => c.name).join(",") });
    }
    return out;
  }
  const rows = await db.query<{ indexname: string; indexdef: string }>(
    "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = ? AND tablename = 'nonces'",
    [db.where],
  );
  return rows.map((r) => ({
    name: r.indexname,
    unique: r.indexdef.startsWith("CREATE UNIQUE"),
    columns: (/\(([^)]*)\)\s*$/.exec(r.indexdef)?.[1] ?? "").replace(/\s/g, ""),
  }));
}

async function nonceColumns(db: LegacyDb, dialect: string): Promise<string[]> {
  const rows =
    dialect === "sqlite"
      ? await db.query<{ name: string }>("PRAGMA table_info(nonces)")
      : await db.query<{ name: string }>(
          "SELECT column_name AS name FROM information_schema.columns WHERE table_schema = ? AND table_name = 'nonces'",
          [db.where],
        );
  return rows.map((r) => r.name).sort();
}

describe.each(legacyDialects)("migration 6 (nonce token_key) on $name", (d) => {
  let db: LegacyDb;
  let store: Store | undefined;
  beforeEach(async () => {
    if (d.skip) return;
    db = await d.create(4);
  });
  afterEach(async () => {
    if (d.skip) return;
    await store?.close();
    store = undefined;
    await db.close();
  });

  it.skipIf(d.skip)("a v4 database keeps every nonce usable, by its old-format token, with the new key", async () => {
    const tokens = Array.from({ length: 3 }, () => legacyNonceToken());
    for (const t of tokens) expect(isWellFormed(t, "an")).toBe(true);
    const ids = tokens.map((_, i) => newId("nce", T0 + i));
    const routes = ["GET /v1/things/**"];
    await insertLegacyNonce(db, tokens[0] as string, { id: ids[0] as string, service: "svc", routes, now: T0 });
    await insertLegacyNonce(db, tokens[1] as string, {
      id: ids[1] as string,
      service: "svc",
      routes,
      now: T0,
      maxUses: 1,
    });
    await insertLegacyNonce(db, tokens[2] as string, {
      id: ids[2] as string,
      service: "svc",
      routes,
      now: T0,
      revokedAt: T0 + 1,
    });
    const before = (await nonceIndexes(db, d.name)).filter((ix) => ix.columns === "token_hash" && ix.unique);
    expect(before).toHaveLength(1);

    store = await db.open();
    await store.migrate();
    await store.migrate();

    const versions = await db.query<{ version: number }>("SELECT version FROM schema_migrations ORDER BY version");
    expect(versions.map((v) => Number(v.version))).toEqual(MIGRATIONS.map((m) => m.version));
    expect(await nonceColumns(db, d.name)).not.toContain("token_hash");
    expect(await nonceColumns(db, d.name)).toContain("token_key");
    const indexes = await nonceIndexes(db, d.name);
    expect(indexes.filter((ix) => ix.columns.includes("token_hash"))).toEqual([]);
    expect(indexes.filter((ix) => ix.columns === "token_key" && ix.unique)).toHaveLength(1);
    expect(indexes.filter((ix) => ix.columns === "id" && ix.unique)).toHaveLength(1);
    for (const name of NONCE_INDEXES) expect(indexes.map((ix) => ix.name)).toContain(name);

    const stored = await db.query<{ id: string; token_key: Buffer }>("SELECT id, token_key FROM nonces ORDER BY id");
    expect(stored).toHaveLength(3);
    for (const [i, t] of tokens.entries()) {
      const row = stored.find((r) => r.id === ids[i]);
      expect(Buffer.from(row?.token_key as Buffer).equals(Buffer.concat([Buffer.alloc(6), hashToken(t)]))).toBe(true);
      expect(Buffer.from(row?.token_key as Buffer).equals(tokenKey(t))).toBe(true);
    }

    const active = await store.getNonceByKey(tokenKey(tokens[0] as string));
    expect(active).toMatchObject({
      id: ids[0],
      service: "svc",
      routes,
      agent: "legacy-agent",
      task: "legacy-task",
      metadata: { k: "v" },
      issuedBy: "key_legacy",
      createdAt: T0,
      expiresAt: T0 + 3_600_000,
      uses: 0,
      rate: null,
    });
    expect(await store.consumeNonce(tokenKey(tokens[0] as string), T0 + 5, used, rejected)).toMatchObject({ ok: true });
    expect(await store.consumeNonce(tokenKey(tokens[1] as string), T0 + 5, used, rejected)).toMatchObject({ ok: true });
    expect(await store.consumeNonce(tokenKey(tokens[1] as string), T0 + 6, used, rejected)).toMatchObject({
      ok: false,
      reason: "nonce_exhausted",
    });
    expect(await store.consumeNonce(tokenKey(tokens[2] as string), T0 + 5, used, rejected)).toMatchObject({
      ok: false,
      reason: "nonce_revoked",
    });
    // The bare SHA-256 (the old key) no longer finds anything.
    expect(await store.getNonceByKey(hashToken(tokens[0] as string))).toBeUndefined();
    expect(verifyChain(await store.scanAudit(0, 100))).toMatchObject({ ok: true, events: 4 });
  });

  it.skipIf(d.skip)("after it, new-format nonces insert beside old ones; the key is unique and 38 bytes", async () => {
    const old = legacyNonceToken();
    await insertLegacyNonce(db, old, { id: newId("nce", T0), service: "svc", routes: ["GET /x"], now: T0 });
    store = await db.open();
    await store.migrate();
    const { token: fresh, ...rec } = nonceRecord(
      { service: "svc", scopes: ["GET /x"], routes: ["GET /x"], agent: "a", expiresAt: T0 + 60_000 },
      T0 + 10,
    );
    await store.insertNonce(rec, draft("nonce.issued", rec));
    expect(await store.getNonceByKey(tokenKey(fresh))).toEqual(rec);
    expect((await store.getNonceByKey(tokenKey(old)))?.agent).toBe("legacy-agent");
    const dup = { ...rec, id: newId("nce", T0 + 11) };
    await expect(store.insertNonce(dup, draft("nonce.issued", dup))).rejects.toThrow();
    const short = { ...rec, id: newId("nce", T0 + 12), tokenKey: hashToken(generateToken("an", T0)) };
    await expect(store.insertNonce(short, draft("nonce.issued", short))).rejects.toThrow();
    const rows = await db.query<{ n: number | string }>("SELECT count(*) AS n FROM nonces");
    expect(Number(rows[0]?.n)).toBe(2);
  });
});
