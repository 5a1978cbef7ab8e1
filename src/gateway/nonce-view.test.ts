import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { generateToken } from "../core/tokens.js";
import type { AuditDraft } from "../core/types.js";
import { type Harness, startHarness } from "../test/gateway-harness.js";

/** `GET /.well-known/agent-nonce` through a real gateway socket: answered by the gateway, never forwarded. */

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.close();
});

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const VIEW = "/.well-known/agent-nonce";

async function usesOf(id: string): Promise<number> {
  return (await h.ctx.store.getNonce(id))?.uses ?? -1;
}

const revokeDraft =
  (now: number) =>
  (n: { id: string }): AuditDraft => ({
    id: `evt_test_${n.id}`,
    time: now,
    type: "nonce.revoked",
    actor: { type: "system", id: "test", name: "test" },
    agent: null,
    task: null,
    nonceId: n.id,
    service: null,
    scopes: null,
    reason: null,
    request: null,
    sourceIp: null,
    data: null,
  });

describe("the nonce's own view", () => {
  it("answers service, routes, constraints, expiry and uses left, and nothing else", async () => {
    const constraints = { "query.limit": { max: 10 } };
    const { token, id } = await h.issue(["GET /v1/customers", "POST /v1/refunds"], {
      maxUses: 3,
      ttlMs: 60_000,
      constraints,
    });
    const r = await h.request(VIEW, { headers: bearer(token) });
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toContain("application/json");
    const view = JSON.parse(r.text);
    expect(Object.keys(view).sort()).toEqual(["constraints", "expires_at", "routes", "service", "uses_left"]);
    expect(view).toEqual({
      service: "svc",
      routes: ["GET /v1/customers", "POST /v1/refunds"],
      constraints,
      expires_at: new Date(h.clock.now() + 60_000).toISOString(),
      uses_left: 3,
    });
    // Nothing identifying the nonce or its holder beyond what it allows.
    for (const needle of [token, id, "test-agent", "task-1", h.secret]) expect(r.text).not.toContain(needle);
    expect(h.upstream.requests).toHaveLength(0);
  });

  it("counts no use and is never forwarded; uses left follows real uses", async () => {
    const { token, id } = await h.issue(["GET /v1/customers"], { maxUses: 2 });
    for (let i = 0; i < 3; i++) expect((await h.request(VIEW, { headers: bearer(token) })).status).toBe(200);
    expect(await h.request(`${VIEW}?x=1`, { headers: bearer(token), method: "HEAD" })).toMatchObject({ status: 200 });
    expect(await usesOf(id)).toBe(0);
    expect(h.upstream.requests).toHaveLength(0);
    expect((await h.request("/v1/customers", { headers: bearer(token) })).status).toBe(200);
    expect(JSON.parse((await h.request(VIEW, { headers: bearer(token) })).text).uses_left).toBe(1);
    expect(h.upstream.requests).toHaveLength(1);
  });

  it("uses_left is null and constraints null for a nonce without limits", async () => {
    const { token } = await h.issue(["GET /v1/x"]);
    const view = JSON.parse((await h.request(VIEW, { headers: bearer(token) })).text);
    expect(view.uses_left).toBeNull();
    expect(view.constraints).toBeNull();
  });

  it("a dead nonce gets its 401", async () => {
    const expired = await h.issue(["GET /v1/x"], { ttlMs: 1_000 });
    const exhausted = await h.issue(["GET /v1/x"], { maxUses: 1 });
    const revoked = await h.issue(["GET /v1/x"]);
    expect((await h.request("/v1/x", { headers: bearer(exhausted.token) })).status).toBe(200);
    await h.ctx.store.revokeNonce(revoked.id, h.clock.now(), revokeDraft(h.clock.now()));
    h.clock.advance(2_000);
    for (const [n, code] of [
      [expired, "nonce_expired"],
      [exhausted, "nonce_exhausted"],
      [revoked, "nonce_revoked"],
      [{ token: generateToken("an", h.clock.now()) }, "nonce_invalid"],
    ] as const) {
      const r = await h.request(VIEW, { headers: bearer(n.token) });
      expect(r.status).toBe(401);
      expect(r.headers["x-agent-nonce-error"]).toBe(code);
      expect(JSON.parse(r.text).error.code).toBe(code);
    }
    expect((await h.request(VIEW)).headers["x-agent-nonce-error"]).toBe("nonce_missing");
    expect(h.upstream.requests).toHaveLength(1);
  });

  it("answers GET only; a longer path is an ordinary (scope-checked) request", async () => {
    const { token, id } = await h.issue(["GET /v1/x"]);
    const post = await h.request(VIEW, { headers: bearer(token), method: "POST", body: "{}" });
    expect(post.status).toBe(400);
    expect(post.headers["x-agent-nonce-error"]).toBe("bad_request");
    const deeper = await h.request(`${VIEW}/more`, { headers: bearer(token) });
    expect(deeper.headers["x-agent-nonce-error"]).toBe("scope_denied");
    expect(await usesOf(id)).toBe(0);
    expect(h.upstream.requests).toHaveLength(0);
  });
});
