import { afterEach, describe, expect, it } from "vitest";
import { newId } from "../core/ids.js";
import { tokenKey } from "../core/tokens.js";
import type { Store } from "../store/store.js";
import { type Harness, startHarness } from "../test/gateway-harness.js";
import { insertLegacyNonce, type LegacyDb, legacyDialects } from "../test/legacy-db.js";
import { legacyNonceToken, retimedToken } from "../test/tokens.js";

/**
 * Nonces issued before tokens carried their issuance time (`an_` + 30 random + checksum, stored as SHA-256 in
 * `token_hash`) keep working through the gateway once the database is upgraded in place to `token_key`.
 */
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

describe.each(legacyDialects)("gateway after migration 6 on $name", (d) => {
  let db: LegacyDb | undefined;
  let store: Store | undefined;
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    await store?.close();
    await db?.close();
    h = undefined;
    store = undefined;
    db = undefined;
  });

  it.skipIf(d.skip)("an old-format nonce from a v4 database is accepted, counted and exhausted", async () => {
    db = await d.create(4);
    const old = legacyNonceToken();
    const id = newId("nce", Date.UTC(2026, 0, 1));
    // The harness's ManualClock starts at 2026-01-01: the row is active for an hour from then.
    await insertLegacyNonce(db, old, {
      id,
      service: "svc",
      routes: ["GET /v1/x"],
      now: Date.UTC(2026, 0, 1),
      maxUses: 2,
    });
    store = await db.open();
    await store.migrate();
    h = await startHarness({ store });

    for (let i = 0; i < 2; i++) {
      const r = await h.request("/v1/x", { headers: bearer(old) });
      expect(r.status).toBe(200);
    }
    const got = h.upstream.requests[0];
    expect(got?.headers.authorization).toBe(`Bearer ${h.secret}`);
    expect(got?.rawHeaders.join("\n")).not.toContain(old);
    const third = await h.request("/v1/x", { headers: bearer(old) });
    expect(third.status).toBe(401);
    expect(third.headers["x-agent-nonce-error"]).toBe("nonce_exhausted");
    expect(h.upstream.requests).toHaveLength(2);
    expect((await h.ctx.store.getNonceByKey(tokenKey(old)))?.uses).toBe(2);
    const used = await h.ctx.store.listAudit({ type: "nonce.used" }, { limit: 10 });
    expect(used.items.map((e) => e.nonceId)).toEqual([id, id]);

    // New-format nonces work beside it; one with altered time chars is refused without reaching upstream.
    const fresh = await h.issue(["GET /v1/x"]);
    expect((await h.request("/v1/x", { headers: bearer(fresh.token) })).status).toBe(200);
    const forged = retimedToken(fresh.token, h.clock.now() + 1);
    const r = await h.request("/v1/x", { headers: bearer(forged) });
    expect(r.status).toBe(401);
    expect(r.headers["x-agent-nonce-error"]).toBe("nonce_invalid");
    expect(h.upstream.requests).toHaveLength(3);
  });
});
