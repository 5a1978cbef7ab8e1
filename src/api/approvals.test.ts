import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { expireDue } from "../app/approvals.js";
import type { IssuerPolicy } from "../core/types.js";
import { type ApiHarness, apiHarness, stripeService } from "../test/api-harness.js";
import { createApiServer } from "./server.js";

/**
 * Human approvals through real sockets (the node:http fast path answers POST /v1/nonces; Hono the rest): two
 * keys, a requester (issuer under a rule with approval.required) and an approver.
 */
let h: ApiHarness;
let api: ReturnType<typeof createApiServer>;
let base: string;
let requester: { id: string; key: string };
let approver: { id: string; key: string };

const policy: IssuerPolicy = {
  allow: [
    { service: "stripe", scopes: ["read:customers"], max_ttl: "10m", approval: { required: true, timeout: "15m" } },
    { service: "stripe2", scopes: ["read:customers"] },
  ],
};

beforeEach(async () => {
  h = await apiHarness();
  await stripeService(h);
  await stripeService(h, "stripe2");
  requester = await h.createKey("issuer", policy, "orchestrator");
  approver = await h.createKey("approver", undefined, "on-call");
  api = createApiServer(h.ctx);
  await new Promise<void>((resolve) => api.server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
});
afterEach(async () => {
  await api.close();
  await h.close();
});

// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary response JSON
async function call(method: string, path: string, key: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

const ask = (service = "stripe") =>
  call("POST", "/v1/nonces", requester.key, { service, scope: "read:customers", agent: "bot", task: "t1", ttl: "5m" });

async function types(): Promise<string[]> {
  const r = await call("GET", "/v1/audit?limit=200", h.adminKey);
  return r.body.events.map((e: { type: string }) => e.type).reverse();
}

async function activeNonces(): Promise<number> {
  const r = await call("GET", "/v1/nonces?status=active", h.adminKey);
  return r.body.nonces.length;
}

describe("approvals", () => {
  it("answers 202 pending and issues nothing; a rule without approval still issues 201", async () => {
    const r = await ask();
    expect(r.status).toBe(202);
    expect(r.body.approval).toMatchObject({ status: "pending", service: "stripe", agent: "bot" });
    expect(r.body.approval.id).toMatch(/^apr_/);
    expect(Date.parse(r.body.approval.expires_at)).toBe(h.clock.now() + 15 * 60_000);
    expect(r.body.approval.nonce).toBeUndefined();
    expect(await activeNonces()).toBe(0);
    expect((await ask("stripe2")).status).toBe(201);
    expect(await types()).toContain("approval.requested");
  });

  it("approved: the requester's first read carries the nonce, TTL from approval; later reads do not", async () => {
    const id = (await ask()).body.approval.id;
    h.clock.advance(60_000);
    const approvedAt = h.clock.now();
    const d = await call("POST", `/v1/approvals/${id}/approve`, approver.key, { comment: "ok for sync" });
    expect(d.status).toBe(200);
    expect(d.body.approval).toMatchObject({ status: "approved", decided_by: approver.id, comment: "ok for sync" });
    expect(d.body.approval.nonce).toBeUndefined();
    // The approver (or an admin) reading it never gets the token.
    expect((await call("GET", `/v1/approvals/${id}`, approver.key)).body.approval.nonce).toBeUndefined();
    expect((await call("GET", `/v1/approvals/${id}`, h.adminKey)).body.approval.nonce).toBeUndefined();
    h.clock.advance(30_000);
    const first = await call("GET", `/v1/approvals/${id}`, requester.key);
    expect(first.status).toBe(200);
    expect(first.body.approval.nonce.nonce).toMatch(/^an_/);
    expect(Date.parse(first.body.approval.nonce.expires_at)).toBe(approvedAt + 5 * 60_000);
    expect(first.body.approval.nonce_id).toBe(first.body.approval.nonce.id);
    const again = await call("GET", `/v1/approvals/${id}`, requester.key);
    expect(again.body.approval.status).toBe("approved");
    expect(again.body.approval.nonce).toBeUndefined();
    expect(JSON.stringify(again.body)).not.toContain(first.body.approval.nonce.nonce);
    expect(await activeNonces()).toBe(1);
    expect(await types()).toEqual(expect.arrayContaining(["approval.requested", "approval.approved", "nonce.issued"]));
  });

  it("refuses self-approval, a role without approval rights, and a second decision (409)", async () => {
    const id = (await ask()).body.approval.id;
    const self = await call("POST", `/v1/approvals/${id}/approve`, requester.key, {});
    expect(self.status).toBe(403);
    const auditor = await h.createKey("auditor");
    expect((await call("POST", `/v1/approvals/${id}/approve`, auditor.key, {})).status).toBe(403);
    const other = await h.createKey("issuer", policy, "other-issuer");
    expect((await call("POST", `/v1/approvals/${id}/approve`, other.key, {})).body.error.code).toBe("forbidden");
    expect((await call("POST", `/v1/approvals/${id}/deny`, approver.key, { comment: "no" })).status).toBe(200);
    const second = await call("POST", `/v1/approvals/${id}/approve`, h.adminKey, {});
    expect(second.status).toBe(409);
    expect(second.body.error.code).toBe("conflict");
    const read = await call("GET", `/v1/approvals/${id}`, requester.key);
    expect(read.body.approval).toMatchObject({ status: "denied", comment: "no" });
    expect(read.body.approval.nonce).toBeUndefined();
    expect(await activeNonces()).toBe(0);
  });

  it("concurrent decisions: exactly one wins", async () => {
    const id = (await ask()).body.approval.id;
    const rs = await Promise.all([
      call("POST", `/v1/approvals/${id}/approve`, approver.key, {}),
      call("POST", `/v1/approvals/${id}/deny`, h.adminKey, {}),
      call("POST", `/v1/approvals/${id}/approve`, h.adminKey, {}),
    ]);
    expect(rs.map((r) => r.status).sort()).toEqual([200, 409, 409]);
  });

  it("an unanswered request expires as denied: at read time, and by the sweep; a late decision is 409", async () => {
    const a = (await ask()).body.approval.id;
    const b = (await ask()).body.approval.id;
    h.clock.advance(15 * 60_000);
    const read = await call("GET", `/v1/approvals/${a}`, requester.key);
    expect(read.body.approval.status).toBe("expired");
    expect(await expireDue(h.ctx)).toBe(1);
    const late = await call("POST", `/v1/approvals/${b}/approve`, approver.key, {});
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe("approval_expired");
    expect((await types()).filter((t) => t === "approval.expired")).toHaveLength(2);
    expect(await activeNonces()).toBe(0);
  });

  it("lists by status; an issuer sees only its own; an unknown id is 404 approval_not_found", async () => {
    await ask();
    const other = await h.createKey("issuer", policy, "other");
    const pending = await call("GET", "/v1/approvals?status=pending", approver.key);
    expect(pending.body.approvals).toHaveLength(1);
    expect((await call("GET", "/v1/approvals", other.key)).body.approvals).toHaveLength(0);
    expect((await call("GET", "/v1/approvals", requester.key)).body.approvals).toHaveLength(1);
    const id = pending.body.approvals[0].id;
    expect((await call("GET", `/v1/approvals/${id}`, other.key)).body.error.code).toBe("approval_not_found");
    const unknown = "apr_01JH0000000000000000000000";
    const r = await call("POST", `/v1/approvals/${unknown}/approve`, approver.key, {});
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe("approval_not_found");
    expect((await call("GET", "/v1/approvals/nope", approver.key)).status).toBe(400);
  });

  it("an approver key may do nothing else", async () => {
    expect((await call("GET", "/v1/nonces", approver.key)).status).toBe(403);
    const r = await call("POST", "/v1/nonces", approver.key, {
      service: "stripe",
      scope: "read:customers",
      agent: "x",
    });
    expect(r.status).toBe(403);
    const k = await call("POST", "/v1/keys", h.adminKey, { name: "ap2", role: "approver" });
    expect(k.status).toBe(201);
    const bad = await call("POST", "/v1/keys", h.adminKey, { name: "ap3", role: "approver", policy });
    expect(bad.status).toBe(400);
  });
});
