import { randomBytes } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fingerprint, seal } from "../core/crypto.js";
import { newId } from "../core/ids.js";
import { type Harness, startHarness } from "../test/gateway-harness.js";

/**
 * The opened-credential cache (credential-cache.ts) end to end: a credential set through another replica (no
 * "service.changed" here, only the ≤ 1 s service cache) or a re-set one is what the very next request injects,
 * and an echo of either secret is scrubbed.
 */

let h: Harness;
beforeEach(async () => {
  h = await startHarness({
    handler: (req, res) => {
      const body = JSON.stringify({ echo: req.headers.authorization });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(body);
    },
  });
});
afterEach(async () => {
  await h.close();
});

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const fake = () => `sk_test_FAKE_${randomBytes(8).toString("hex")}`;

/** What another replica does: the store's row changes, this process gets no event. */
async function setSecretElsewhere(secret: string) {
  const now = h.clock.now();
  await h.ctx.store.setCredential(
    h.service,
    seal(h.ctx.masterKeys, h.service, Buffer.from(secret)),
    fingerprint(h.service, Buffer.from(secret)),
    now,
    {
      id: newId("evt", now),
      time: now,
      type: "credential.set",
      actor: { type: "system", id: "test", name: "test" },
      agent: null,
      task: null,
      nonceId: null,
      service: h.service,
      scopes: null,
      reason: null,
      request: null,
      sourceIp: null,
      data: null,
    },
  );
}

describe("gateway: opened credentials are never stale", () => {
  it("injects a credential set on another replica once the service record is re-read, and scrubs it", async () => {
    const { token } = await h.issue(["GET /v1/**"]);
    expect((await h.request("/v1/a", { headers: bearer(token) })).status).toBe(200);
    const next = fake();
    await setSecretElsewhere(next);
    h.clock.advance(1_000); // the service record's cache lifetime; the opened credential's is longer
    const r = await h.request("/v1/b", { headers: bearer(token) });
    expect(r.status).toBe(200);
    expect(h.upstream.requests.at(-1)?.headers.authorization).toBe(`Bearer ${next}`);
    expect(r.text).not.toContain(next);
  });

  it("injects a re-set credential on the very next request", async () => {
    const { token } = await h.issue(["GET /v1/**"]);
    await h.request("/v1/a", { headers: bearer(token) });
    const next = fake();
    await h.setSecret(h.service, next);
    const r = await h.request("/v1/b", { headers: bearer(token) });
    expect(h.upstream.requests.at(-1)?.headers.authorization).toBe(`Bearer ${next}`);
    expect(r.text).not.toContain(next);
    expect(r.text).not.toContain(h.secret);
  });

  it("names the credential each use carried, by fingerprint: nonce.used data.credential follows a re-set", async () => {
    const { id, token } = await h.issue(["GET /v1/**"]);
    await h.request("/v1/a", { headers: bearer(token) });
    const next = fake();
    await h.setSecret(h.service, next);
    await h.request("/v1/b", { headers: bearer(token) });
    const used = (await h.ctx.store.listAudit({ nonceId: id, type: "nonce.used" }, { limit: 10 })).items;
    const byPath = Object.fromEntries(used.map((e) => [e.request?.path, e.data?.credential]));
    expect(byPath).toEqual({
      "/v1/a": fingerprint(h.service, Buffer.from(h.secret)),
      "/v1/b": fingerprint(h.service, Buffer.from(next)),
    });
    expect(JSON.stringify(used)).not.toContain(next);
  });
});
