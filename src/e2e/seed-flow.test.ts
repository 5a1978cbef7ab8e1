import { AgentNonce, AgentNonceError } from "@agent-nonce/sdk";
import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.js";
import { type FakeUpstream, startFakeUpstream } from "../test/fake-upstream.js";
import { type E2eServer, fakeSecret, pgReachable, startE2e } from "./harness.js";

/**
 * The seed's story, end to end through real sockets, on both stores: register Stripe from the template, set
 * the real key write-only, issue a nonce exactly as the seed does, and use the official `stripe` client against
 * the gateway with nothing but host/port/protocol and the nonce.
 */

const hasPg = await pgReachable();

function stripeLike(): Promise<FakeUpstream> {
  return startFakeUpstream((req, res) => {
    const url = new URL(req.url, "http://upstream");
    let body: unknown;
    if (req.method === "GET" && url.pathname === "/v1/customers") {
      body = {
        object: "list",
        url: "/v1/customers",
        has_more: false,
        data: [{ id: "cus_1", object: "customer", email: "a@example.test" }],
      };
    } else if (req.method === "GET" && url.pathname.startsWith("/v1/customers/")) {
      body = { id: url.pathname.split("/")[3], object: "customer" };
    } else {
      body = { id: "cus_new", object: "customer" };
    }
    const text = JSON.stringify(body);
    res.writeHead(200, { "content-type": "application/json", "request-id": "req_fake" });
    res.end(text);
  });
}

describe.each([
  { dialect: "sqlite" as const, enabled: true },
  { dialect: "postgres" as const, enabled: hasPg },
])("seed flow on $dialect", ({ dialect, enabled }) => {
  let server: E2eServer;
  let upstream: FakeUpstream;
  let an: AgentNonce;
  let secret: string;
  const clock = new ManualClock(Date.now());

  beforeAll(async () => {
    if (!enabled) return;
    upstream = await stripeLike();
    server = await startE2e(dialect, { clock });
    an = new AgentNonce({ baseUrl: server.apiUrl as string, apiKey: server.adminApiKey });
    secret = fakeSecret();
    await an.services.put("stripe", { template: "stripe", upstream: upstream.url, insecureUpstream: true });
    await an.services.setCredential("stripe", secret);
  });

  const issuedTokens: string[] = [];
  afterAll(async () => {
    if (enabled) {
      // No token, API key or secret in any log line the server wrote during the whole flow.
      const logs = server.logs();
      expect(logs.length).toBeGreaterThan(0);
      for (const needle of [secret, server.adminApiKey, ...issuedTokens]) expect(logs).not.toContain(needle);
      expect(logs).not.toMatch(/\bat .+\.(ts|js):\d+/); // no stack traces
    }
    await server?.stop();
    await upstream?.close();
  });

  const gw = () => new URL(server.gatewayUrl as string);
  const stripeWith = (nonce: string) =>
    new Stripe(nonce, { host: gw().hostname, port: Number(gw().port), protocol: "http", maxNetworkRetries: 0 });

  it.skipIf(!enabled)("issues as the seed does and the stripe client works through the gateway", async () => {
    const n = await an.nonces.create({
      service: "stripe",
      scope: "read:customers",
      ttl: "5m",
      agent: "billing-bot",
      task: "sync-42",
    });
    expect(n.nonce).toMatch(/^an_[0-9A-Za-z]{43}$/);
    expect(n.id).toMatch(/^nce_/);
    expect(n.expiresAt.getTime() - clock.now()).toBe(300_000);

    const before = upstream.requests.length;
    const list = await stripeWith(n.nonce).customers.list({ limit: 3 });
    expect(list.data[0]?.id).toBe("cus_1");
    const got = await stripeWith(n.nonce).customers.retrieve("cus_9");
    expect(got.id).toBe("cus_9");

    const seen = upstream.requests.slice(before);
    expect(seen).toHaveLength(2);
    for (const r of seen) {
      expect(r.headers.authorization).toBe(`Bearer ${secret}`);
      expect(JSON.stringify(r.rawHeaders)).not.toContain(n.nonce);
      expect(r.url).not.toContain(n.nonce);
    }
    expect(seen[0]?.url).toBe("/v1/customers?limit=3");
    expect(JSON.stringify(list)).not.toContain(secret);
  });

  it.skipIf(!enabled)("denies what the scope does not allow, and the upstream never sees it", async () => {
    const n = await an.nonces.create({
      service: "stripe",
      scope: "read:customers",
      agent: "billing-bot",
      task: "deny-1",
    });
    const before = upstream.requests.length;
    const err = await stripeWith(n.nonce)
      .customers.create({ email: "x@example.test" })
      .catch((e: unknown) => e as Stripe.errors.StripeError);
    expect(err).toBeInstanceOf(Stripe.errors.StripeError);
    expect((err as Stripe.errors.StripeError).statusCode).toBe(403);
    const res = await fetch(`${server.gatewayUrl}/v1/charges`, { headers: { authorization: `Bearer ${n.nonce}` } });
    expect(res.status).toBe(403);
    expect(res.headers.get("x-agent-nonce-error")).toBe("scope_denied");
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("scope_denied");
    expect(upstream.requests.length).toBe(before);
  });

  it.skipIf(!enabled)("expiry, revocation by id/task/agent/service and max_uses each give their 401", async () => {
    const call = async (nonce: string) => {
      const r = await fetch(`${server.gatewayUrl}/v1/customers`, { headers: { authorization: `Bearer ${nonce}` } });
      await r.arrayBuffer();
      return { status: r.status, code: r.headers.get("x-agent-nonce-error") };
    };
    const mk = (extra: Record<string, unknown> = {}) =>
      an.nonces.create({
        service: "stripe",
        scope: "read:customers",
        agent: "a-1",
        task: "t-rev",
        ttl: "30s",
        ...extra,
      });

    const exp = await mk();
    expect((await call(exp.nonce)).status).toBe(200);
    clock.advance(31_000);
    expect(await call(exp.nonce)).toEqual({ status: 401, code: "nonce_expired" });
    expect((await an.nonces.get(exp.id)).status).toBe("expired");

    const byId = await mk();
    await byId.revoke();
    expect(await call(byId.nonce)).toEqual({ status: 401, code: "nonce_revoked" });
    expect((await an.nonces.get(byId.id)).status).toBe("revoked");

    for (const filter of [{ task: "t-x" }, { agent: "agent-x" }, { service: "stripe" }]) {
      const n = await mk({ task: filter.task ?? "t-other", agent: filter.agent ?? "a-other" });
      expect((await call(n.nonce)).status).toBe(200);
      expect(await an.nonces.revokeWhere(filter)).toBeGreaterThanOrEqual(1);
      expect(await call(n.nonce)).toEqual({ status: 401, code: "nonce_revoked" });
    }

    const once = await mk({ maxUses: 1 });
    expect((await call(once.nonce)).status).toBe(200);
    expect(await call(once.nonce)).toEqual({ status: 401, code: "nonce_exhausted" });
    expect((await an.nonces.get(once.id)).status).toBe("exhausted");

    expect(await call(`an_${"x".repeat(36)}`)).toEqual({ status: 401, code: "nonce_invalid" });
  });

  it.skipIf(!enabled)("max_uses is atomic: 40 concurrent requests on max_uses 5 give exactly 5 successes", async () => {
    const n = await an.nonces.create({ service: "stripe", scope: "read:customers", agent: "racer", maxUses: 5 });
    const before = upstream.requests.length;
    const statuses = await Promise.all(
      Array.from({ length: 40 }, async () => {
        const r = await fetch(`${server.gatewayUrl}/v1/customers`, { headers: { authorization: `Bearer ${n.nonce}` } });
        await r.arrayBuffer();
        return r.status;
      }),
    );
    // The rest are refused: 401 nonce_exhausted, or 429 when more than maxConcurrentPerNonce are in flight at once.
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    expect(statuses.filter((s) => s === 401 || s === 429)).toHaveLength(35);
    expect(upstream.requests.length - before).toBe(5);
    const status = await an.nonces.get(n.id);
    expect(status.uses).toBe(5);
  });

  it.skipIf(!enabled)("await using revokes at the end of the block", async () => {
    let token = "";
    {
      await using n = await an.nonces.create({
        service: "stripe",
        scope: "read:customers",
        agent: "scoped-bot",
        task: "using-1",
      });
      token = n.nonce;
      const r = await n.fetch("/v1/customers?limit=1");
      expect(r.status).toBe(200);
    }
    const r = await fetch(`${server.gatewayUrl}/v1/customers`, { headers: { authorization: `Bearer ${token}` } });
    expect(r.headers.get("x-agent-nonce-error")).toBe("nonce_revoked");
  });

  it.skipIf(!enabled)(
    "audits issuance, use, rejection and revocation with agent, task, nonce id and actor",
    async () => {
      const n = await an.nonces.create({
        service: "stripe",
        scope: "read:customers",
        agent: "audit-bot",
        task: "audit-1",
      });
      await n.fetch("/v1/customers");
      await n.fetch("/v1/refunds", { method: "POST" });
      await n.revoke();
      await n.fetch("/v1/customers");
      const { events } = await an.audit.list({ task: "audit-1" });
      // `nonce.completed` (the upstream's outcome) is appended once the response is known: its place may vary.
      const types = events
        .filter((e) => e.type !== "nonce.completed")
        .map((e) => `${e.type}${e.type === "nonce.rejected" ? `:${e.reason}` : ""}`);
      expect(types).toEqual([
        "nonce.issued",
        "nonce.used",
        "nonce.rejected:scope_denied",
        "nonce.revoked",
        "nonce.rejected:nonce_revoked",
      ]);
      for (const e of events) {
        expect(e.agent).toBe("audit-bot");
        expect(e.nonceId).toBe(n.id);
        expect(JSON.stringify(e)).not.toContain(n.nonce);
        expect(JSON.stringify(e)).not.toContain(secret);
      }
      const used = events.find((e) => e.type === "nonce.used");
      expect(used?.request).toMatchObject({ method: "GET", path: "/v1/customers" });
      const completed = events.filter((e) => e.type === "nonce.completed");
      expect(completed).toHaveLength(1);
      expect(completed[0]?.request).toMatchObject({ method: "GET", path: "/v1/customers", status: 200 });
    },
  );

  it.skipIf(!enabled)("an issuer outside its policy gets 403 and nothing is issued", async () => {
    const issuerKey = await an.keys.create({
      name: "billing-orchestrator",
      role: "issuer",
      policy: { allow: [{ service: "stripe", scopes: ["read:customers"], max_ttl: "10m" }], agents: ["billing-*"] },
    });
    const issuer = new AgentNonce({ baseUrl: server.apiUrl as string, apiKey: issuerKey.key });
    const ok = await issuer.nonces.create({ service: "stripe", scope: "read:customers", agent: "billing-bot" });
    expect(ok.nonce).toMatch(/^an_/);
    for (const bad of [
      { service: "stripe", scope: "write:customers", agent: "billing-bot" },
      { service: "stripe", scope: "read:customers", agent: "other-bot" },
      { service: "stripe", scope: "read:customers", agent: "billing-bot", ttl: "1h" },
    ]) {
      const err = await issuer.nonces.create(bad).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AgentNonceError);
      expect((err as AgentNonceError).code).toBe("forbidden");
      expect((err as AgentNonceError).status).toBe(403);
    }
    const mine = await issuer.nonces.list({});
    expect(mine.nonces.map((x) => x.id)).toEqual([ok.id]);
    const denied = await an.audit.list({ type: "nonce.issue_denied" });
    expect(denied.events.length).toBeGreaterThanOrEqual(3);
    const svcErr = await issuer.services.put("evil", { upstream: "https://evil.example" }).catch((e: unknown) => e);
    expect((svcErr as AgentNonceError).code).toBe("forbidden");
  });
});
