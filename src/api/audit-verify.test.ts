import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startAuditRuntime } from "../app/audit-runtime.js";
import { type ApiHarness, apiHarness, stripeService } from "../test/api-harness.js";

let h: ApiHarness;
beforeEach(async () => {
  h = await apiHarness();
  await stripeService(h);
});
afterEach(async () => {
  await h.close();
});

describe("GET /v1/audit/verify, /v1/audit/checkpoints, /v1/audit/export", () => {
  it("verifies the chain and lists signed checkpoints with the signing key", async () => {
    await h.call("POST", "/v1/nonces", { body: { service: "stripe", scope: "read:customers", agent: "a" } });
    const v = await h.call("GET", "/v1/audit/verify");
    expect(v.status).toBe(200);
    expect(v.body).toEqual({ ok: true, events: 3, checkpoints: 0, untrusted_checkpoints: 0, from_seq: 0 });

    const page = await h.call("GET", "/v1/audit/checkpoints");
    expect(page.status).toBe(200);
    const kid = page.body.signing_key.kid;
    expect(page.body.signing_key.public_key).toMatchObject({ kty: "OKP", crv: "Ed25519", kid });
    expect(page.body.checkpoints).toEqual([]);

    const audit = await startAuditRuntime(h.ctx);
    await audit.checkpointer.checkpoint();
    const after = await h.call("GET", "/v1/audit/checkpoints?limit=1");
    expect(after.body.checkpoints).toEqual([
      expect.objectContaining({ seq: 3, events: 3, kid, trusted: true, time: expect.stringMatching(/Z$/) }),
    ]);
    expect(after.body.checkpoints[0].public_key).not.toHaveProperty("d");
    expect((await h.call("GET", "/v1/audit/verify")).body).toMatchObject({ ok: true, checkpoints: 2 });
    await audit.close();
  });

  it("pages checkpoints on whole seqs", async () => {
    const audit = await startAuditRuntime(h.ctx);
    for (let i = 0; i < 3; i++) {
      await h.call("DELETE", "/v1/services/nothing");
      await h.call("PUT", "/v1/services/stripe", { body: { template: "stripe" } });
      await audit.checkpointer.checkpoint();
    }
    const seqs: number[] = [];
    let cursor = "";
    for (let i = 0; i < 5; i++) {
      const r = await h.call("GET", `/v1/audit/checkpoints?limit=1${cursor}`);
      seqs.push(...r.body.checkpoints.map((c: { seq: number }) => c.seq));
      if (!r.body.next_cursor) break;
      cursor = `&cursor=${r.body.next_cursor}`;
    }
    expect(seqs).toEqual([3, 4, 5]);
    await audit.close();
  });

  it("export streams every event as one JSON line each, oldest first, within since/until", async () => {
    h.clock.advance(60_000);
    const mid = new Date(h.clock.now()).toISOString();
    await h.call("POST", "/v1/nonces", { body: { service: "stripe", scope: "read:customers", agent: "a" } });
    const all = await h.call("GET", "/v1/audit/export");
    expect(all.headers.get("content-type")).toMatch(/^application\/x-ndjson/);
    const lines = all.text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(lines[2]).toEqual((await h.call("GET", "/v1/audit")).body.events[2]);
    const later = await h.call("GET", `/v1/audit/export?since=${encodeURIComponent(mid)}`);
    expect(
      later.text
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).type),
    ).toEqual(["nonce.issued"]);
    expect((await h.call("GET", "/v1/audit/export?format=csv")).status).toBe(400);
  });

  it("is for admins and auditors: an issuer gets 403", async () => {
    const auditor = await h.createKey("auditor");
    const issuer = await h.createKey("issuer", { allow: [{ service: "stripe", scopes: ["*"] }] });
    for (const path of ["/v1/audit/verify", "/v1/audit/checkpoints", "/v1/audit/export"]) {
      expect((await h.call("GET", path, { key: auditor.key })).status).toBe(200);
      const denied = await h.call("GET", path, { key: issuer.key });
      expect(denied.status).toBe(403);
      expect(denied.body.error.code).toBe("forbidden");
      expect((await h.call("GET", path, { key: null })).status).toBe(401);
    }
  });
});
