import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { AgentNonce } from "@agent-nonce/sdk";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { generateToken } from "../core/tokens.js";
import { type FakeUpstream, startFakeUpstream } from "../test/fake-upstream.js";
import { createTestDatabase, type TestDatabase } from "../test/pg-database.js";
import { skipPostgres } from "../test/stores.js";
import { startTcpProxy, type TcpProxy, viaProxy } from "../test/tcp-proxy.js";
import { fakeSecret } from "./harness.js";
import { type ServeProcess, serve } from "./process.js";

/**
 * DESIGN.md "Running more than one replica", with real processes on one PostgreSQL database of the test's own:
 * a control plane with a gateway (A) and a gateway-only replica (B).
 */
describe.skipIf(skipPostgres)("replicas on one PostgreSQL database (real processes)", () => {
  let db: TestDatabase;
  let upstream: FakeUpstream;
  let proxy: TcpProxy | undefined;
  const procs: ServeProcess[] = [];
  const dirs: string[] = [];
  const adminKey = generateToken("ank");
  const masterKey = randomBytes(32).toString("base64");

  beforeEach(async () => {
    db = await createTestDatabase();
    upstream = await startFakeUpstream();
  });
  afterEach(async () => {
    await Promise.all(procs.splice(0).map((p) => p.stop()));
    await proxy?.close();
    proxy = undefined;
    await upstream.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    await db.drop();
  });

  async function replica(role: "all" | "gateway", databaseUrl = db.url): Promise<ServeProcess> {
    const dir = mkdtempSync(path.join(tmpdir(), "an-replica-"));
    dirs.push(dir);
    const env = {
      AGENT_NONCE_DATABASE_URL: databaseUrl,
      AGENT_NONCE_MASTER_KEY: masterKey,
      AGENT_NONCE_ADMIN_KEY: adminKey,
    };
    const p = await serve(dir, env, ["--role", role]);
    procs.push(p);
    return p;
  }

  async function setUp(a: ServeProcess): Promise<AgentNonce> {
    const an = new AgentNonce({ baseUrl: a.apiUrl, apiKey: adminKey });
    await an.services.put("echo", {
      upstream: upstream.url,
      insecureUpstream: true,
      auth: { type: "bearer" },
      scopes: { read: ["GET /**"] },
    });
    await an.services.setCredential("echo", fakeSecret());
    return an;
  }

  const call = async (gateway: string, nonce: string, p = "/x"): Promise<number> => {
    try {
      const r = await fetch(`${gateway}${p}`, { headers: { authorization: `Bearer ${nonce}` } });
      await r.arrayBuffer();
      return r.status;
    } catch {
      return 0; // connection reset (a killed replica)
    }
  };

  it("max_uses is exact across two gateway processes: 60 concurrent requests, exactly 10 forwarded", async () => {
    const a = await replica("all");
    const b = await replica("gateway");
    const an = await setUp(a);
    const n = await an.nonces.create({ service: "echo", scope: "read", agent: "race-bot", ttl: "10m", maxUses: 10 });
    const statuses = await Promise.all(
      Array.from({ length: 60 }, (_, i) => call(i % 2 === 0 ? a.gatewayUrl : b.gatewayUrl, n.nonce, `/r${i}`)),
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s !== 200).every((s) => s === 401)).toBe(true);
    expect(upstream.requests).toHaveLength(10);
    expect((await an.nonces.get(n.id)).uses).toBe(10);
  });

  it("a rate is exact across two gateway processes: 5/m, 30 concurrent requests, exactly 5 forwarded", async () => {
    const a = await replica("all");
    const b = await replica("gateway");
    const an = await setUp(a);
    const n = await an.nonces.create({ service: "echo", scope: "read", agent: "rate-bot", ttl: "10m", rate: "5/m" });
    const statuses = await Promise.all(
      Array.from({ length: 30 }, (_, i) => call(i % 2 === 0 ? a.gatewayUrl : b.gatewayUrl, n.nonce, `/q${i}`)),
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(25);
    expect(upstream.requests).toHaveLength(5);
    expect((await an.nonces.get(n.id)).uses).toBe(5);
  });

  it("PostgreSQL unreachable: the gateway answers 503 unavailable, forwards nothing, and recovers by itself", async () => {
    const a = await replica("all");
    proxy = await startTcpProxy(Number(new URL(db.url).port || 5432));
    const b = await replica("gateway", viaProxy(db.url, proxy));
    const an = await setUp(a);
    const n = await an.nonces.create({ service: "echo", scope: "read", agent: "fault-bot", ttl: "10m" });
    expect(await call(b.gatewayUrl, n.nonce)).toBe(200);
    const forwarded = upstream.requests.length;

    proxy.cut();
    for (const p of ["/down1", "/down2", "/down3"]) {
      const r = await fetch(`${b.gatewayUrl}${p}`, { headers: { authorization: `Bearer ${n.nonce}` } });
      expect(r.status).toBe(503);
      expect(r.headers.get("x-agent-nonce-error")).toBe("unavailable");
      await r.arrayBuffer();
    }
    expect((await fetch(`${b.gatewayUrl}/readyz`)).status).toBe(503);
    expect(upstream.requests.length).toBe(forwarded);

    proxy.restore();
    let status = 0;
    for (let i = 0; i < 200 && status !== 200; i++) {
      status = await call(b.gatewayUrl, n.nonce, "/back");
      if (status !== 200) await new Promise((r) => setTimeout(r, 25));
    }
    expect(status).toBe(200);
    expect((await fetch(`${b.gatewayUrl}/readyz`)).status).toBe(200);
  });

  it("kill -9 of one gateway under load: every 2xx has its nonce.used, the other keeps serving, audit verifies", async () => {
    const a = await replica("all");
    const b = await replica("gateway");
    const an = await setUp(a);
    const n = await an.nonces.create({ service: "echo", scope: "read", agent: "kill-bot", ttl: "10m" });
    const ok: string[] = [];
    let stop = false;
    let seq = 0;
    const worker = async (gateway: string) => {
      while (!stop) {
        const p = `/k${seq++}`;
        if ((await call(gateway, n.nonce, p)) === 200) ok.push(p);
      }
    };
    const workers = [a, b, a, b, b, b].map((r) => worker(r.gatewayUrl));
    while (ok.length < 100) await new Promise((r) => setTimeout(r, 5));
    await b.kill9();
    const beforeA = ok.length;
    while (ok.length < beforeA + 50) await new Promise((r) => setTimeout(r, 5));
    stop = true;
    await Promise.all(workers);

    const used = new Set<string>();
    for await (const e of an.audit.iterate({ nonce: n.id, type: "nonce.used" })) used.add(e.request?.path ?? "");
    for (const p of ok) expect(used.has(p), p).toBe(true);
    const v = await an.audit.verify();
    expect(v.ok).toBe(true);
  });
});
