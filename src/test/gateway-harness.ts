import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { Agent, type Dispatcher } from "undici";
import type { ConfigInput } from "../config.js";
import type { ManualClock } from "../core/clock.js";
import { fingerprint, seal } from "../core/crypto.js";
import { newId } from "../core/ids.js";
import { generateToken, tokenKey } from "../core/tokens.js";
import type { AuditDraft, ServiceAuth } from "../core/types.js";
import { createGatewayServer, type GatewayServer } from "../gateway/server.js";
import type { Store } from "../store/store.js";
import { type TestContext, testContext } from "./context.js";
import { type FakeUpstream, type FakeUpstreamHandler, startFakeUpstream } from "./fake-upstream.js";

/**
 * End-to-end harness for gateway tests: a real SQLite store (testContext), a fake upstream on loopback, the
 * gateway listening on 127.0.0.1:0, one service pointing at the upstream with a generated fake secret, and a
 * helper to issue nonces directly through the store.
 */

export interface Harness {
  ctx: TestContext;
  clock: ManualClock;
  upstream: FakeUpstream;
  gateway: GatewayServer;
  /** `http://127.0.0.1:<port>` of the gateway. */
  url: string;
  port: number;
  service: string;
  /** The real (fake) credential injected upstream. */
  secret: string;
  issue(
    routes: string[],
    opts?: {
      maxUses?: number;
      ttlMs?: number;
      service?: string;
      constraints?: Record<string, unknown>;
      rate?: string;
    },
  ): Promise<{ token: string; id: string }>;
  putService(name: string, upstream: string, auth: ServiceAuth, insecureUpstream?: boolean): Promise<void>;
  setSecret(name: string, secret: string | Buffer): Promise<void>;
  request(
    path: string,
    opts?: Partial<Dispatcher.RequestOptions>,
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }>;
  close(): Promise<void>;
}

const systemDraft = (now: number, type: AuditDraft["type"], service: string): AuditDraft => ({
  id: newId("evt", now),
  time: now,
  type,
  actor: { type: "system", id: "test", name: "test" },
  agent: null,
  task: null,
  nonceId: null,
  service,
  scopes: null,
  reason: null,
  request: null,
  sourceIp: null,
  data: null,
});

export async function startHarness(
  opts: {
    handler?: FakeUpstreamHandler;
    streaming?: boolean;
    auth?: ServiceAuth;
    secret?: string;
    config?: Partial<ConfigInput>;
    /** A store to run on (the caller owns and closes it); default a fresh migrated SQLite store. */
    store?: Store;
  } = {},
): Promise<Harness> {
  const ctx = await testContext({
    ...(opts.config ? { config: opts.config } : {}),
    ...(opts.store ? { store: opts.store } : {}),
  });
  const clock = ctx.clock as ManualClock;
  const upstream = await startFakeUpstream(opts.handler, { streaming: opts.streaming ?? false });
  const gateway = createGatewayServer(ctx);
  await new Promise<void>((resolve) => gateway.server.listen(0, "127.0.0.1", resolve));
  const port = (gateway.server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  const client = new Agent({ keepAliveTimeout: 10 });
  const secret = opts.secret ?? `sk_test_FAKE_${randomBytes(12).toString("hex")}`;
  const service = "svc";

  const putService = async (name: string, up: string, auth: ServiceAuth, insecureUpstream = true) => {
    const now = clock.now();
    await ctx.store.putService(
      { name, template: null, upstream: up, auth, scopes: {}, insecureUpstream, createdAt: now, updatedAt: now },
      systemDraft(now, "service.created", name),
    );
    ctx.events.emit("service.changed", name);
  };
  const setSecret = async (name: string, s: string | Buffer) => {
    const buf = typeof s === "string" ? Buffer.from(s) : s;
    const now = clock.now();
    await ctx.store.setCredential(
      name,
      seal(ctx.masterKeys, name, buf),
      fingerprint(name, buf),
      now,
      systemDraft(now, "credential.set", name),
    );
    ctx.events.emit("service.changed", name);
  };
  await putService(service, upstream.url, opts.auth ?? { type: "bearer" });
  await setSecret(service, secret);

  return {
    ctx,
    clock,
    upstream,
    gateway,
    url,
    port,
    service,
    secret,
    putService,
    setSecret,
    async issue(routes, o = {}) {
      const now = clock.now();
      const token = generateToken("an", now);
      const id = newId("nce", now);
      const svc = o.service ?? service;
      await ctx.store.insertNonce(
        {
          id,
          tokenKey: tokenKey(token),
          service: svc,
          scopes: routes,
          routes,
          agent: "test-agent",
          task: "task-1",
          maxUses: o.maxUses ?? null,
          uses: 0,
          constraints: o.constraints ?? null,
          rate: o.rate ?? null,
          metadata: null,
          issuedBy: "key_test",
          createdAt: now,
          expiresAt: now + (o.ttlMs ?? 300_000),
          revokedAt: null,
        },
        { ...systemDraft(now, "nonce.issued", svc), nonceId: id, agent: "test-agent", task: "task-1" },
      );
      return { token, id };
    },
    async request(path, o = {}) {
      const r = await client.request({ origin: url, path, method: "GET", ...o } as Dispatcher.RequestOptions);
      const text = await r.body.text();
      return { status: r.statusCode, headers: r.headers, text };
    },
    async close() {
      await client.close();
      await new Promise<void>((resolve) => {
        gateway.server.closeAllConnections();
        gateway.server.close(() => resolve());
      });
      await gateway.close();
      await upstream.close();
      await ctx.close();
    },
  };
}
