import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.js";
import { open } from "../core/crypto.js";
import { type OAuthServer, startOAuthServer } from "../test/oauth-server.js";
import { type E2eServer, pgReachable, startE2e } from "./harness.js";

/**
 * OAuth2 services end to end (issue 12 part 3) against a real authorization server (oidc-provider) and an API that
 * accepts only tokens the provider's introspection endpoint calls active.
 */

const REDACTED = "[REDACTED by agent-nonce]";
const hasPg = await pgReachable();

interface Env {
  server: E2eServer;
  as: OAuthServer;
  clock: ManualClock;
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers of the API, read field by field in assertions
  api(method: string, p: string, body?: unknown): Promise<{ status: number; body: Record<string, any> }>;
  nonce(extra?: Record<string, unknown>): Promise<{ id: string; nonce: string }>;
  call(nonce: string, p?: string): Promise<{ status: number; code: string | null; text: string }>;
  storedRoot(): Promise<{ client_secret: string; refresh_token?: string }>;
  stop(): Promise<void>;
}

async function setup(dialect: "sqlite" | "postgres", grant: "client_credentials" | "refresh_token"): Promise<Env> {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const server = await startE2e(dialect, { clock });
  const as = await startOAuthServer({ grant });
  const api = async (method: string, p: string, body?: unknown) => {
    const res = await fetch(`${server.apiUrl}${p}`, {
      method,
      headers: { authorization: `Bearer ${server.adminApiKey}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  const put = await api("PUT", "/v1/services/crm", {
    upstream: as.api.url,
    insecure_upstream: true,
    auth: { type: "oauth2", grant, token_url: as.tokenUrl, client_id: as.clientId },
    scopes: { "crm:all": ["* /v1/**"] },
  });
  expect(put.status).toBe(200);
  const refresh = grant === "refresh_token" ? await as.seedRefreshToken() : undefined;
  const cred = await api("PUT", "/v1/services/crm/credential", {
    client_secret: as.clientSecret,
    ...(refresh ? { refresh_token: refresh } : {}),
  });
  expect(cred.status).toBe(200);
  return {
    server,
    as,
    clock,
    api,
    async nonce(extra = {}) {
      const r = await api("POST", "/v1/nonces", {
        service: "crm",
        scope: "crm:all",
        agent: "crm-bot",
        ttl: "1h",
        ...extra,
      });
      expect(r.status).toBe(201);
      return r.body;
    },
    async call(nonce, p = "/v1/contacts") {
      const res = await fetch(`${server.gatewayUrl}${p}`, { headers: { authorization: `Bearer ${nonce}` } });
      return { status: res.status, code: res.headers.get("x-agent-nonce-error"), text: await res.text() };
    },
    async storedRoot() {
      const svc = await server.ctx.store.getService("crm");
      const plain = open(server.ctx.masterKeys, "crm", svc?.credential as Buffer);
      return JSON.parse(plain.toString("utf8"));
    },
    async stop() {
      await server.stop();
      await as.close();
    },
  };
}

describe("oauth2 client_credentials", () => {
  let env: Env;
  beforeAll(async () => {
    env = await setup("sqlite", "client_credentials");
  });
  afterAll(async () => env?.stop());

  it("20 concurrent first requests share one token request (single flight) and one token", async () => {
    const n = await env.nonce();
    const before = env.as.tokenCalls;
    const results = await Promise.all(Array.from({ length: 20 }, () => env.call(n.nonce)));
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(env.as.tokenCalls - before).toBe(1);
    expect(new Set(env.as.api.seen.slice(-20)).size).toBe(1);
  });

  it("shares the token across nonces and refreshes it before expiry", async () => {
    const a = await env.nonce();
    const b = await env.nonce();
    const before = env.as.tokenCalls;
    await env.call(a.nonce);
    await env.call(b.nonce);
    expect(env.as.tokenCalls).toBe(before);
    const first = env.as.api.seen.at(-1);
    env.clock.advance(90_000); // the token lives 120 s; the cache renews within its last 60 s
    expect((await env.call(a.nonce)).status).toBe(200);
    expect(env.as.tokenCalls).toBe(before + 1);
    expect(env.as.api.seen.at(-1)).not.toBe(first);
  });

  it("refreshes once after an upstream 401, even when several requests saw it", async () => {
    const n = await env.nonce();
    await env.call(n.nonce);
    const stale = env.as.api.seen.at(-1) as string;
    env.as.api.reject.add(stale);
    const before = env.as.tokenCalls;
    const rejected = await Promise.all(Array.from({ length: 5 }, () => env.call(n.nonce)));
    expect(rejected.map((r) => r.status)).toEqual(Array(5).fill(401));
    expect(env.as.tokenCalls).toBe(before); // no refresh loop inside the gateway
    expect((await env.call(n.nonce)).status).toBe(200);
    expect((await env.call(n.nonce)).status).toBe(200);
    expect(env.as.tokenCalls).toBe(before + 1);
    expect(env.as.api.seen.at(-1)).not.toBe(stale);
  });

  it("scrubs the access token from an upstream that echoes it", async () => {
    const n = await env.nonce();
    const r = await env.call(n.nonce, "/v1/echo");
    expect(r.status).toBe(200);
    const token = env.as.api.seen.at(-1) as string;
    expect(JSON.parse(r.text)).toEqual({ you_sent: `Bearer ${REDACTED}` });
    expect(r.text).not.toContain(token);
  });

  it("a refusing authorization server: 502 credential_unavailable, audited, and no retry loop", async () => {
    const n = await env.nonce();
    const put = await env.api("PUT", "/v1/services/crm/credential", { client_secret: "cs_FAKE_wrong" });
    expect(put.status).toBe(200);
    const before = env.as.tokenCalls;
    const first = await env.call(n.nonce);
    expect(first.status).toBe(502);
    expect(first.code).toBe("credential_unavailable");
    const again = await Promise.all(Array.from({ length: 5 }, () => env.call(n.nonce)));
    expect(again.map((r) => r.code)).toEqual(Array(5).fill("credential_unavailable"));
    expect(env.as.tokenCalls - before).toBe(1);
    const audit = await env.api("GET", `/v1/audit?type=credential.mint_failed&nonce=${n.id}`);
    expect(audit.body.events[0]).toMatchObject({ service: "crm", reason: "invalid_client" });
    // The admin fixes the credential: the next request mints at once.
    await env.api("PUT", "/v1/services/crm/credential", { client_secret: env.as.clientSecret });
    expect((await env.call(n.nonce)).status).toBe(200);
  });

  it("no access token in audit events, logs or the data dir; minted events carry the fingerprint only", async () => {
    const audit = JSON.stringify((await env.api("GET", "/v1/audit?limit=1000")).body);
    expect(audit).toContain("credential.minted");
    const { readdirSync, readFileSync } = await import("node:fs");
    const path = await import("node:path");
    const files = readdirSync(env.server.dataDir, { recursive: true, withFileTypes: true })
      .filter((d) => d.isFile())
      .map((d) => readFileSync(path.join(d.parentPath, d.name)).toString("latin1"))
      .join("\n");
    const tokens = new Set(env.as.api.seen.filter(Boolean));
    expect(tokens.size).toBeGreaterThan(2);
    for (const t of tokens) {
      for (const hay of [audit, env.server.logs(), files]) expect(hay).not.toContain(t);
    }
    for (const hay of [audit, env.server.logs()]) expect(hay).not.toContain(env.as.clientSecret);
  });
});

describe.each([
  { dialect: "sqlite" as const, skip: false },
  { dialect: "postgres" as const, skip: !hasPg },
])("oauth2 refresh_token on $dialect", ({ dialect, skip }) => {
  let env: Env;
  beforeAll(async () => {
    if (!skip) env = await setup(dialect, "refresh_token");
  });
  afterAll(async () => env?.stop());

  it.skipIf(skip)("stores the rotated refresh token, sealed, before using the new access token", async () => {
    const seeded = (await env.storedRoot()).refresh_token as string;
    const n = await env.nonce();
    const results = await Promise.all(Array.from({ length: 20 }, () => env.call(n.nonce)));
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(env.as.tokenCalls).toBe(1);
    const rotated = (await env.storedRoot()).refresh_token as string;
    expect(rotated).not.toBe(seeded);
    expect(await env.as.refreshTokenActive(seeded)).toBe(false);
    expect(await env.as.refreshTokenActive(rotated)).toBe(true);
    // Before expiry the gateway refreshes again with the stored (rotated) token: the provider accepts it.
    env.clock.advance(90_000);
    expect((await env.call(n.nonce)).status).toBe(200);
    expect(env.as.tokenCalls).toBe(2);
    const third = (await env.storedRoot()).refresh_token as string;
    expect(third).not.toBe(rotated);
    const events = (await env.api("GET", "/v1/audit?type=credential.rotated&service=crm")).body.events;
    expect(events).toHaveLength(2);
    const all = JSON.stringify((await env.api("GET", "/v1/audit?limit=1000")).body);
    for (const t of [seeded, rotated, third]) expect(all).not.toContain(t);
  });

  it.skipIf(skip)("invalid_grant (a refresh token revoked at the provider): 502 and an audited event", async () => {
    const n = await env.nonce();
    await env.api("PUT", "/v1/services/crm/credential", {
      client_secret: env.as.clientSecret,
      refresh_token: `rt_FAKE_${"0".repeat(40)}`,
    });
    const r = await env.call(n.nonce);
    expect(r.status).toBe(502);
    expect(r.code).toBe("credential_unavailable");
    const audit = await env.api("GET", `/v1/audit?type=credential.mint_failed&nonce=${n.id}`);
    expect(audit.body.events[0]?.reason).toBe("invalid_grant");
  });
});
