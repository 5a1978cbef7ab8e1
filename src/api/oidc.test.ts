import type { AddressInfo } from "node:net";
import { SignJWT } from "jose";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { oidcVerifierFor } from "../app/oidc.js";
import { type ApiHarness, apiHarness, stripeService } from "../test/api-harness.js";
import { type OidcIssuer, startOidcIssuer } from "../test/oidc-issuer.js";
import { createApiServer } from "./server.js";

/**
 * OIDC workload identity end to end over real sockets: a local OIDC issuer (discovery + JWKS over HTTP, jose keys)
 * and the control plane's HTTP server (fast path for POST /v1/nonces, Hono for the rest).
 */
let h: ApiHarness;
let idp: OidcIssuer;
let api: ReturnType<typeof createApiServer>;
let base: string;

const AUD = "agent-nonce-test";
const SUB = "repo:acme/app:environment:prod";
const policy = { allow: [{ service: "stripe", scopes: ["read:customers"], max_ttl: "10m" }] };

beforeEach(async () => {
  h = await apiHarness();
  await stripeService(h);
  idp = await startOidcIssuer();
  // Cooldown 0 so a rotated key is fetched at once; trust list read on every call so deletes apply at once.
  oidcVerifierFor(h.ctx, { jwksCooldownMs: 0, trustTtlMs: 0 });
  api = createApiServer(h.ctx);
  await new Promise<void>((resolve) => api.server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
});
afterEach(async () => {
  await api.close();
  await idp.close();
  await h.close();
});

async function http(method: string, path: string, token: string, body?: unknown) {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, text, body: text ? JSON.parse(text) : null };
}

const trustBody = (over: Record<string, unknown> = {}) => ({
  issuer: idp.issuer,
  audience: AUD,
  subject: "repo:acme/*:environment:prod",
  claims: { repository: "acme/*", ref: "refs/heads/main" },
  role: "issuer",
  policy,
  insecure_issuer: true,
  ...over,
});

const claims = (over: Record<string, unknown> = {}) => {
  const now = Math.floor(h.clock.now() / 1000);
  return { aud: AUD, sub: SUB, repository: "acme/app", ref: "refs/heads/main", iat: now, exp: now + 300, ...over };
};

const issue = (token: string, scope = "read:customers") =>
  http("POST", "/v1/nonces", token, { service: "stripe", scope, agent: "ci-bot", ttl: "5m" });

async function nonceCount(): Promise<number> {
  return (await h.call("GET", "/v1/nonces")).body.nonces.length;
}

describe("trust relationships API", () => {
  it("creates, reads, lists, replaces and deletes, audited as trust.created|updated|deleted", async () => {
    const put = await h.call("PUT", "/v1/trust/gha", { body: trustBody() });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ name: "gha", issuer: idp.issuer, role: "issuer", actor_prefix: "oidc:gha:" });
    expect((await h.call("PUT", "/v1/trust/gha", { body: trustBody({ audience: "other" }) })).status).toBe(200);
    expect((await h.call("GET", "/v1/trust/gha")).body.audience).toBe("other");
    expect((await h.call("GET", "/v1/trust")).body.trust.map((t: { name: string }) => t.name)).toEqual(["gha"]);
    expect((await h.call("DELETE", "/v1/trust/gha")).status).toBe(204);
    const types = (await h.call("GET", "/v1/audit?limit=100")).body.events.map((e: { type: string }) => e.type);
    expect(types.filter((t: string) => t.startsWith("trust."))).toEqual(
      expect.arrayContaining(["trust.created", "trust.updated", "trust.deleted"]),
    );
    // Every type is a filter (list and stream take the one list in core/audit-types.ts).
    for (const type of ["trust.created", "trust.updated", "trust.deleted"]) {
      const page = await h.call("GET", `/v1/audit?type=${type}`);
      expect(page.status).toBe(200);
      expect(page.body.events.map((e: { type: string }) => e.type)).toEqual([type]);
    }
  });

  it("answers bad input with its documented code", async () => {
    const cases: [string, Record<string, unknown>, number, string][] = [
      ["http without insecure_issuer", { insecure_issuer: false }, 400, "invalid_request"],
      ["private https issuer", { issuer: "https://10.0.0.7", insecure_issuer: false }, 400, "invalid_request"],
      ["loopback name", { issuer: "https://idp.localhost", insecure_issuer: false }, 400, "invalid_request"],
      ["not a URL", { issuer: "token.actions" }, 400, "invalid_request"],
      ["issuer with query", { issuer: `${"https://idp.example.com"}?x=1` }, 400, "invalid_request"],
      ["issuer role without policy", { policy: undefined }, 400, "invalid_request"],
      ["auditor with policy", { role: "auditor" }, 400, "invalid_request"],
      ["reserved claim", { claims: { aud: "*" } }, 400, "invalid_request"],
      ["admin role", { role: "admin" }, 400, "invalid_request"],
      ["unknown field", { extra: 1 }, 400, "invalid_request"],
    ];
    for (const [what, over, status, code] of cases) {
      const r = await h.call("PUT", "/v1/trust/bad", { body: trustBody(over) });
      expect([what, r.status, r.body.error.code]).toEqual([what, status, code]);
    }
    expect((await h.call("PUT", "/v1/trust/Bad_Name", { body: trustBody() })).status).toBe(400);
    expect((await h.call("GET", "/v1/trust/nope")).body.error.code).toBe("trust_not_found");
    expect((await h.call("DELETE", "/v1/trust/nope")).body.error.code).toBe("trust_not_found");
    const issuer = await h.createKey("issuer", { allow: [{ service: "stripe", scopes: ["read:customers"] }] });
    expect((await h.call("PUT", "/v1/trust/x", { key: issuer.key, body: trustBody() })).status).toBe(403);
    expect((await h.call("GET", "/v1/trust", { key: issuer.key })).status).toBe(403);
    expect((await h.call("GET", "/v1/trust")).body.trust).toEqual([]);
  });
});

describe("an orchestrator authenticated by its OIDC token", () => {
  beforeEach(async () => {
    expect((await h.call("PUT", "/v1/trust/gha", { body: trustBody() })).status).toBe(200);
  });

  it("issues within its trust's policy (fast path), as actor oidc:<trust>:<sub>, and is refused outside it", async () => {
    const token = await idp.sign(claims());
    const fastBefore = (await h.ctx.metrics.apiFastPath.get()).values.reduce((n, v) => n + v.value, 0);
    const ok = await issue(token);
    expect(ok.status).toBe(201);
    // Answered by the node:http fast path, not handed to Hono.
    expect((await h.ctx.metrics.apiFastPath.get()).values.reduce((n, v) => n + v.value, 0)).toBe(fastBefore + 1);
    expect(ok.text).not.toContain(token);
    const denied = await issue(token, "write:refunds");
    expect(denied.status).toBe(403);
    const events = (await h.call("GET", "/v1/audit?limit=100")).body.events;
    const issued = events.find((e: { type: string }) => e.type === "nonce.issued");
    expect(issued.actor).toEqual({ type: "oidc", id: `oidc:gha:${SUB}`, name: "gha" });
    // Its own nonces only, like an issuer key.
    const mine = await http("GET", "/v1/nonces", token);
    expect(mine.body.nonces.map((n: { id: string }) => n.id)).toEqual([ok.body.id]);
    expect(await nonceCount()).toBe(1);
  });

  it("refuses bad tokens with 401 unauthenticated saying why, and issues nothing", async () => {
    const now = Math.floor(h.clock.now() / 1000);
    const hs = await new SignJWT({ ...claims(), iss: idp.issuer })
      .setProtectedHeader({ alg: "HS256" })
      .sign(new TextEncoder().encode("not-a-real-secret-just-for-this-test"));
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const none = `${b64({ alg: "none" })}.${b64({ ...claims(), iss: idp.issuer })}.`;
    const cases: [string, string, RegExp][] = [
      ["malformed", "aaa.bbb.ccc", /malformed/],
      ["HS256", hs, /algorithm/],
      ["none", none, /algorithm/],
      ["unknown issuer", await idp.sign(claims({ iss: "https://idp.example.com" })), /issuer unknown/],
      ["wrong audience", await idp.sign(claims({ aud: "someone-else" })), /audience/],
      ["expired", await idp.sign(claims({ iat: now - 3600, exp: now - 61 })), /expired/],
      ["not yet valid", await idp.sign(claims({ nbf: now + 120 })), /not yet valid/],
      ["subject mismatch", await idp.sign(claims({ sub: "repo:evil/app:environment:prod" })), /subject/],
      ["claim mismatch", await idp.sign(claims({ ref: "refs/heads/feature" })), /claim ref/],
      ["claim missing", await idp.sign(claims({ repository: undefined })), /claim repository/],
      ["forged signature", await idp.sign(claims(), { key: await idp.strangerKey() }), /signature/],
      ["unknown kid", await idp.sign(claims(), { kid: "nobody", key: await idp.strangerKey() }), /signature/],
    ];
    for (const [what, token, why] of cases) {
      const r = await issue(token);
      expect([what, r.status, r.body.error.code]).toEqual([what, 401, "unauthenticated"]);
      expect(r.body.error.message, what).toMatch(why);
      expect(r.text).not.toContain(token);
      expect(r.text).not.toMatch(/\bat .*\.(ts|js)/);
      // Hono route too (GET), same answer.
      expect((await http("GET", "/v1/nonces", token)).status).toBe(401);
    }
    expect(await nonceCount()).toBe(0);
  });

  it("accepts a token within the 60 s clock tolerance", async () => {
    const now = Math.floor(h.clock.now() / 1000);
    expect((await issue(await idp.sign(claims({ iat: now - 600, exp: now - 30 })))).status).toBe(201);
  });

  it("follows key rotation: a new kid makes the JWKS be fetched again", async () => {
    expect((await issue(await idp.sign(claims()))).status).toBe(201);
    const fetches = idp.jwksFetches;
    const oldKid = idp.kid;
    await idp.rotate();
    expect(idp.kid).not.toBe(oldKid);
    expect((await issue(await idp.sign(claims()))).status).toBe(201);
    expect(idp.jwksFetches).toBe(fetches + 1);
    // Cached: another token under the same kid needs no fetch.
    expect((await issue(await idp.sign(claims()))).status).toBe(201);
    expect(idp.jwksFetches).toBe(fetches + 1);
  });

  it("stops working once its trust is deleted; an auditor trust can read audit but not issue", async () => {
    const token = await idp.sign(claims());
    await h.call("DELETE", "/v1/trust/gha");
    expect((await issue(token)).body.error.message).toMatch(/issuer unknown/);
    const auditor = { role: "auditor", policy: undefined, subject: "repo:acme/*", claims: undefined };
    expect((await h.call("PUT", "/v1/trust/audit", { body: trustBody(auditor) })).status).toBe(200);
    expect((await http("GET", "/v1/audit", token)).status).toBe(200);
    expect((await issue(token)).status).toBe(403);
  });

  it("refuses a discovery redirect and a discovery document naming another issuer, fetching no keys", async () => {
    const messages = { redirect: /could not be fetched/, "other-issuer": /names another issuer/ };
    for (const mode of ["redirect", "other-issuer"] as const) {
      h.clock.advance(1000); // a new updated_at: the trust's key source is built afresh
      await h.call("PUT", "/v1/trust/gha", { body: trustBody({ audience: `${AUD}-${mode}` }) });
      idp.discovery = mode;
      const r = await issue(await idp.sign(claims({ aud: `${AUD}-${mode}` })));
      expect([mode, r.status, r.body.error.message]).toEqual([mode, 401, expect.stringMatching(messages[mode])]);
    }
    expect(idp.jwksFetches).toBe(0);
    expect(await nonceCount()).toBe(0);
  });

  it("uses jwks_uri when set, without discovery", async () => {
    await h.call("DELETE", "/v1/trust/gha");
    await h.call("PUT", "/v1/trust/direct", { body: trustBody({ jwks_uri: idp.jwksUri }) });
    const before = idp.discoveryFetches;
    expect((await issue(await idp.sign(claims()))).status).toBe(201);
    expect(idp.discoveryFetches).toBe(before);
  });
});
