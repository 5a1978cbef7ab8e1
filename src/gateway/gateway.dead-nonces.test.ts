import type { AddressInfo } from "node:net";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import type { ConfigInput } from "../config.js";
import { newId } from "../core/ids.js";
import type { AuditEvent } from "../core/types.js";
import type { Store } from "../store/store.js";
import type { FakeUpstreamHandler } from "../test/fake-upstream.js";
import { type Harness, startHarness } from "../test/gateway-harness.js";
import { dialects } from "../test/stores.js";
import { WINDOW_MS } from "./dead-nonce-log.js";
import { createGatewayServer } from "./server.js";

/**
 * SECURITY.md rule 14, "dead nonces cost nothing", through real sockets on both store dialects: an expired,
 * revoked or exhausted nonce gets its own 401 before any scope, limit or constraint answer, its repeats are
 * answered from memory and coalesced in the audit log (one event per nonce and reason per minute, ManualClock).
 */

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

async function revoke(h: Harness, id: string) {
  const now = h.clock.now();
  await h.ctx.store.revokeNonce(id, now, (n) => ({
    id: newId("evt", now),
    time: now,
    type: "nonce.revoked",
    actor: null,
    agent: n.agent,
    task: n.task,
    nonceId: n.id,
    service: n.service,
    scopes: n.scopes,
    reason: null,
    request: null,
    sourceIp: null,
    data: null,
  }));
}

/** The 200's `nonce.completed` is written off the response path: wait for it before counting store work. */
async function settled(h: Harness, nonceId: string) {
  await expect
    .poll(async () => (await h.ctx.store.listAudit({ nonceId, type: "nonce.completed" }, { limit: 10 })).items.length)
    .toBeGreaterThan(0);
}

async function rejections(h: Harness, nonceId: string): Promise<AuditEvent[]> {
  return (await h.ctx.store.listAudit({ nonceId, type: "nonce.rejected" }, { limit: 100 })).items;
}

/** Counts the store calls the gateway makes from here on. */
function spyStore(store: Store) {
  const calls = { consume: 0, status: 0, byKey: 0, append: 0, consumeDrafts: [] as unknown[] };
  const consume = store.consumeNonce.bind(store);
  const status = store.getNonceStatus.bind(store);
  const byKey = store.getNonceByKey.bind(store);
  const append = store.appendAudit.bind(store);
  store.consumeNonce = (key, now, onOk, onReject) => {
    calls.consume++;
    return consume(key, now, onOk, (reason, n) => {
      const d = onReject(reason, n);
      calls.consumeDrafts.push(d);
      return d;
    });
  };
  store.getNonceStatus = (key, now) => {
    calls.status++;
    return status(key, now);
  };
  store.getNonceByKey = (key) => {
    calls.byKey++;
    return byKey(key);
  };
  store.appendAudit = (drafts) => {
    calls.append++;
    return append(drafts);
  };
  return calls;
}

async function deadMetric(h: Harness, reason: string): Promise<number> {
  const m = await h.ctx.metrics.deadNoncePresentations.get();
  return m.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

describe.each(dialects)("dead nonces ($name)", (d) => {
  describe.skipIf(d.skip)(d.name, () => {
    let h: Harness | undefined;
    let store: Store | undefined;
    afterEach(async () => {
      await h?.close();
      await store?.close();
      h = undefined;
      store = undefined;
    });

    async function setup(opts: { handler?: FakeUpstreamHandler; config?: Partial<ConfigInput> } = {}) {
      store = await d.create();
      h = await startHarness({ store, ...opts });
      return h;
    }

    it("1,000 replays of a revoked nonce: one event at once, one with count 999 when the window closes, no store work per replay", async () => {
      const h = await setup();
      const { token, id } = await h.issue(["GET /v1/x"]);
      expect((await h.request("/v1/x", { headers: bearer(token) })).status).toBe(200); // cached now
      await settled(h, id);
      await revoke(h, id);
      const calls = spyStore(h.ctx.store);
      const seq0 = (await h.ctx.store.auditHead()).seq;

      const first = await h.request("/v1/x", { headers: bearer(token) });
      expect(first.status).toBe(401);
      expect(first.headers["x-agent-nonce-error"]).toBe("nonce_revoked");
      // Written before the 401 was sent, and not in the consume's transaction.
      expect(calls.consume).toBe(1);
      expect(calls.consumeDrafts).toEqual([null]);
      const once = await rejections(h, id);
      expect(once).toHaveLength(1);
      expect(once[0]).toMatchObject({ reason: "nonce_revoked", request: { method: "GET", path: "/v1/x" } });
      expect(once[0]!.data).toMatchObject({ count: 1 });

      for (let batch = 0; batch < 9; batch++) {
        const answers = await Promise.all(
          Array.from({ length: 111 }, () => h.request("/v1/x", { headers: bearer(token) })),
        );
        for (const r of answers) expect(r.headers["x-agent-nonce-error"]).toBe("nonce_revoked");
        h.clock.advance(6_000); // batches at +0 … +48 s, all inside the window
      }
      // 999 repeats answered from memory: no consume, no status read, no lookup, no audit write.
      expect(calls).toMatchObject({ consume: 1, status: 0, byKey: 0, append: 1 });
      expect((await h.ctx.store.auditHead()).seq).toBe(seq0 + 1);
      expect(await deadMetric(h, "nonce_revoked")).toBe(1_000);
      expect(h.upstream.requests).toHaveLength(1);

      h.clock.advance(WINDOW_MS - 54_000);
      // The window closes on the gateway's tick (clock time decides; the tick runs every second of real time).
      await expect.poll(async () => (await rejections(h, id)).length, { timeout: 5_000 }).toBe(2);
      const coalesced = (await rejections(h, id))[1]!;
      expect(coalesced).toMatchObject({ reason: "nonce_revoked", nonceId: id, agent: "test-agent" });
      expect(coalesced.data).toMatchObject({
        count: 999,
        first_at: new Date(once[0]!.time).toISOString(),
        last_at: new Date(once[0]!.time + 48_000).toISOString(), // the last batch, at +48 s
      });
      expect((await h.ctx.store.auditHead()).seq - seq0).toBeLessThanOrEqual(2);
      expect(calls.consume).toBe(1);
    });

    it("a continuous replay writes one event per minute; a quiet minute ends it; close() flushes the open window", async () => {
      const h = await setup();
      const { token, id } = await h.issue(["GET /v1/x"]);
      await revoke(h, id);
      const hit = async () => {
        const r = await h.request("/v1/x", { headers: bearer(token) });
        expect(r.headers["x-agent-nonce-error"]).toBe("nonce_revoked");
      };
      const counts = async () => (await rejections(h, id)).map((e) => e.data?.count);
      await hit(); // t=0: written at once
      await hit();
      await hit();
      h.clock.advance(WINDOW_MS); // t=60: this presentation closes the first window and is counted in the next
      await hit();
      await expect.poll(counts).toEqual([1, 2]);
      h.clock.advance(WINDOW_MS); // t=120
      await hit();
      await expect.poll(counts).toEqual([1, 2, 1]);
      h.clock.advance(3 * WINDOW_MS); // a quiet stretch: the window at t=120 is over, the next one empty
      await hit(); // written at once again
      await expect.poll(counts).toEqual([1, 2, 1, 1, 1]);
      await hit();
      await hit();
      // Gateway close writes the pending count of the open window (the store outlives the gateway here).
      const gw = h.gateway;
      await new Promise<void>((resolve) => {
        gw.server.closeAllConnections();
        gw.server.close(() => resolve());
      });
      await gw.close();
      expect(await counts()).toEqual([1, 2, 1, 1, 1, 2]);
    });

    it("a revoked nonce out of scope gets 401 nonce_revoked, not 403: nothing about its scope is told or audited", async () => {
      const h = await setup();
      const { token, id } = await h.issue(["GET /v1/x"]);
      expect((await h.request("/v1/x", { headers: bearer(token) })).status).toBe(200);
      await revoke(h, id);
      const calls = spyStore(h.ctx.store);
      for (const path of ["/v1/admin", "/v1/y", "/v1/x/z"]) {
        const r = await h.request(path, { method: "DELETE", headers: bearer(token) });
        expect(r.status).toBe(401);
        expect(r.headers["x-agent-nonce-error"]).toBe("nonce_revoked");
        expect(r.text).not.toContain("scope");
      }
      // The first was read once (status), the rest answered from memory; nothing consumed.
      expect(calls).toMatchObject({ consume: 0, status: 1 });
      expect((await rejections(h, id)).map((e) => e.reason)).toEqual(["nonce_revoked"]);
      expect(h.upstream.requests).toHaveLength(1);
    });

    it("an exhausted nonce out of scope gets 401 nonce_exhausted", async () => {
      const h = await setup();
      const { token, id } = await h.issue(["GET /v1/x"], { maxUses: 1 });
      expect((await h.request("/v1/x", { headers: bearer(token) })).status).toBe(200);
      const r = await h.request("/v1/other", { method: "POST", headers: bearer(token) });
      expect(r.status).toBe(401);
      expect(r.headers["x-agent-nonce-error"]).toBe("nonce_exhausted");
      expect((await rejections(h, id)).map((e) => e.reason)).toEqual(["nonce_exhausted"]);
      expect(await deadMetric(h, "nonce_exhausted")).toBe(1);
    });

    it("an expired nonce (ManualClock) gets 401 nonce_expired out of scope, without touching the store", async () => {
      const h = await setup();
      const { token, id } = await h.issue(["GET /v1/x"], { ttlMs: 30_000 });
      expect((await h.request("/v1/x", { headers: bearer(token) })).status).toBe(200);
      await settled(h, id);
      h.clock.advance(30_000); // expires_at is exclusive
      const calls = spyStore(h.ctx.store);
      for (const path of ["/v1/x", "/v1/out-of-scope"]) {
        const r = await h.request(path, { headers: bearer(token) });
        expect(r.status).toBe(401);
        expect(r.headers["x-agent-nonce-error"]).toBe("nonce_expired");
      }
      expect(calls).toMatchObject({ consume: 0, status: 0, byKey: 0, append: 1 });
      expect((await rejections(h, id)).map((e) => e.reason)).toEqual(["nonce_expired"]);
    });

    it("a revoked nonce over its rate gets 401, not 429", async () => {
      const h = await setup();
      const { token, id } = await h.issue(["GET /v1/x"], { rate: "1/m" });
      expect((await h.request("/v1/x", { headers: bearer(token) })).status).toBe(200);
      expect((await h.request("/v1/x", { headers: bearer(token) })).status).toBe(429); // live: rate_limited
      await revoke(h, id);
      const r = await h.request("/v1/x", { headers: bearer(token) });
      expect(r.status).toBe(401);
      expect(r.headers["x-agent-nonce-error"]).toBe("nonce_revoked");
      expect(r.headers["retry-after"]).toBeUndefined();
      expect((await rejections(h, id)).map((e) => e.reason)).toEqual(["rate_limited", "nonce_revoked"]);
    });

    it("a revoked nonce violating a constraint gets 401, not 403 constraint_failed", async () => {
      const h = await setup();
      const { token, id } = await h.issue(["GET /v1/x"], {
        constraints: { "GET /v1/x": { "query.limit": { max: 10 } } },
      });
      expect((await h.request("/v1/x?limit=5", { headers: bearer(token) })).status).toBe(200);
      await revoke(h, id);
      const r = await h.request("/v1/x?limit=500", { headers: bearer(token) });
      expect(r.status).toBe(401);
      expect(r.headers["x-agent-nonce-error"]).toBe("nonce_revoked");
      expect((await rejections(h, id)).map((e) => e.reason)).toEqual(["nonce_revoked"]);
    });

    it("a nonce revoked while its requests are in flight gets 401 past the concurrency limit, not 429", async () => {
      const release: (() => void)[] = [];
      const handler: FakeUpstreamHandler = (_req, res) =>
        new Promise<void>((resolve) => {
          release.push(() => {
            res.end("ok");
            resolve();
          });
        });
      const h = await setup({ handler, config: { gateway: { maxConcurrentPerNonce: 1 } } });
      const { token, id } = await h.issue(["GET /v1/x"]);
      const inFlight = h.request("/v1/x", { headers: bearer(token) });
      await expect.poll(() => release.length).toBe(1);
      expect((await h.request("/v1/x", { headers: bearer(token) })).status).toBe(429); // live: concurrency
      await revoke(h, id);
      const r = await h.request("/v1/x", { headers: bearer(token) });
      expect(r.status).toBe(401);
      expect(r.headers["x-agent-nonce-error"]).toBe("nonce_revoked");
      release[0]!();
      expect((await inFlight).status).toBe(200);
    });

    it("a nonce of a deleted service (revoked with it) gets 401 nonce_revoked, not 502", async () => {
      const h = await setup();
      await h.putService("gone", h.upstream.url, { type: "bearer" });
      await h.setSecret("gone", "sk_test_FAKE_gone");
      const { token, id } = await h.issue(["GET /v1/x"], { service: "gone" });
      expect((await h.request("/v1/x", { headers: bearer(token) })).status).toBe(200);
      const now = h.clock.now();
      await h.ctx.store.deleteService("gone", now, {
        id: newId("evt", now),
        time: now,
        type: "service.deleted",
        actor: null,
        agent: null,
        task: null,
        nonceId: null,
        service: "gone",
        scopes: null,
        reason: null,
        request: null,
        sourceIp: null,
        data: null,
      });
      h.ctx.events.emit("service.changed", "gone");
      const r = await h.request("/v1/x", { headers: bearer(token) });
      expect(r.status).toBe(401);
      expect(r.headers["x-agent-nonce-error"]).toBe("nonce_revoked");
      expect((await rejections(h, id)).map((e) => e.reason)).toEqual(["nonce_revoked"]);
    });

    it("two gateways on one store: a revocation is seen by both at once (alive-ness is cached nowhere)", async () => {
      const h = await setup();
      // A second replica: its own caches, dead set and coalescer; the same store and master key.
      const other = createGatewayServer(h.ctx);
      await new Promise<void>((resolve) => other.server.listen(0, "127.0.0.1", resolve));
      const otherUrl = `http://127.0.0.1:${(other.server.address() as AddressInfo).port}`;
      try {
        const { token, id } = await h.issue(["GET /v1/x"]);
        const via = async (url: string, path = "/v1/x") => {
          const r = await request(url + path, { headers: bearer(token) });
          await r.body.dump();
          return { status: r.statusCode, code: r.headers["x-agent-nonce-error"] };
        };
        for (const url of [h.url, otherUrl]) {
          expect((await via(url)).status).toBe(200);
          expect(await via(url, "/v1/out")).toEqual({ status: 403, code: "scope_denied" }); // status read: active
        }
        await revoke(h, id);
        for (const url of [h.url, otherUrl]) expect((await via(url)).code).toBe("nonce_revoked");
      } finally {
        await new Promise<void>((resolve) => {
          other.server.closeAllConnections();
          other.server.close(() => resolve());
        });
        await other.close();
      }
    });

    it("a live nonce's denials are still audited one by one, and revocation still takes effect at once", async () => {
      const h = await setup();
      const { token, id } = await h.issue(["GET /v1/x"]);
      for (let i = 0; i < 3; i++) {
        const r = await h.request("/v1/admin", { headers: bearer(token) });
        expect(r.headers["x-agent-nonce-error"]).toBe("scope_denied");
      }
      expect((await rejections(h, id)).map((e) => e.reason)).toEqual(["scope_denied", "scope_denied", "scope_denied"]);
      // The status reads before those denials cached nothing: the next in-scope request after a revocation is 401.
      expect((await h.request("/v1/x", { headers: bearer(token) })).status).toBe(200);
      await revoke(h, id);
      expect((await h.request("/v1/x", { headers: bearer(token) })).headers["x-agent-nonce-error"]).toBe(
        "nonce_revoked",
      );
    });
  });
});
