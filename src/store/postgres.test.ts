import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { verifyChain } from "../core/audit-chain.js";
import { newId } from "../core/ids.js";
import { generateToken, hashToken } from "../core/tokens.js";
import type { AuditDraft } from "../core/types.js";
import { skipPostgres, TEST_DATABASE_URL } from "../test/stores.js";
import { createPostgresStore } from "./postgres.js";
import type { Store } from "./store.js";

const T0 = Date.UTC(2026, 0, 1);

function draft(type: AuditDraft["type"], over: Partial<AuditDraft> = {}): AuditDraft {
  return {
    id: newId("evt", T0),
    time: T0,
    type,
    actor: null,
    agent: null,
    task: null,
    nonceId: null,
    service: null,
    scopes: null,
    reason: null,
    request: null,
    sourceIp: null,
    data: null,
    ...over,
  };
}

/** Several "replicas": independent pools on one schema, as separate processes sharing PostgreSQL would be. */
describe.skipIf(skipPostgres)("postgres store with several replicas", () => {
  const schema = `an_test_${randomBytes(6).toString("hex")}`;
  const stores: Store[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await c.end();
  });

  it("migrate is safe when replicas start at once, and consumeNonce stays exact across them", async () => {
    for (let i = 0; i < 3; i++) {
      stores.push(await createPostgresStore({ connectionString: TEST_DATABASE_URL, schema, poolSize: 6 }));
    }
    await Promise.all(stores.map((s) => s.migrate()));
    const [a, b, c] = stores as [Store, Store, Store];
    const token = generateToken("an");
    await a.insertNonce(
      {
        id: newId("nce", T0),
        tokenHash: hashToken(token),
        service: "stripe",
        scopes: ["read:customers"],
        routes: ["GET /v1/customers"],
        agent: "bot",
        task: null,
        maxUses: 7,
        uses: 0,
        constraints: null,
        metadata: null,
        issuedBy: "key_x",
        createdAt: T0,
        expiresAt: T0 + 60_000,
        revokedAt: null,
      },
      draft("nonce.issued"),
    );
    const results = await Promise.all(
      Array.from({ length: 45 }, (_, i) =>
        [a, b, c][i % 3]?.consumeNonce(
          hashToken(token),
          T0 + 1,
          (n) => draft("nonce.used", { nonceId: n.id }),
          (reason) => draft("nonce.rejected", { reason }),
        ),
      ),
    );
    expect(results.filter((r) => r?.ok)).toHaveLength(7);
    expect(results.filter((r) => r?.ok === false && r.reason === "nonce_exhausted")).toHaveLength(38);
    expect(verifyChain(await b.scanAudit(0, 1000))).toEqual({ ok: true, events: 46 });
  });

  it("refuses a schema name that is not a plain identifier", async () => {
    await expect(
      createPostgresStore({ connectionString: TEST_DATABASE_URL, schema: "x; DROP TABLE nonces" }),
    ).rejects.toMatchObject({ code: "invalid_request" });
  });
});
