import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { AgentNonce } from "@agent-nonce/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateToken } from "../core/tokens.js";
import { MIGRATIONS } from "../store/migrations/index.js";
import { type FakeUpstream, startFakeUpstream } from "../test/fake-upstream.js";
import { createTestDatabase, queryDatabase } from "../test/pg-database.js";
import { skipPostgres } from "../test/stores.js";
import { fakeSecret } from "./harness.js";
import { serve } from "./process.js";

/** DESIGN.md "Running more than one replica": readiness, graceful SIGTERM, concurrent first start. */

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(false);
    });
    s.once("error", (e: NodeJS.ErrnoException) => resolve(e.code === "ECONNREFUSED"));
  });
}

describe("SIGTERM drains in-flight requests (real process)", () => {
  let upstream: FakeUpstream;
  let arrived: () => void = () => {};
  let release: () => void = () => {};
  const inUpstream = new Promise<void>((r) => {
    arrived = r;
  });
  const released = new Promise<void>((r) => {
    release = r;
  });
  const dataDir = mkdtempSync(path.join(tmpdir(), "an-sigterm-"));

  beforeAll(async () => {
    // Holds /slow until the test releases it: the request is in flight for as long as the test needs, no timers.
    upstream = await startFakeUpstream(async (req, res) => {
      if (req.url === "/slow") {
        arrived();
        await released;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"ok":true}');
    });
  });
  afterAll(async () => {
    release();
    await upstream.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("stops accepting, lets the slow request finish with 200, exits 0 with its audit written", async () => {
    const adminKey = generateToken("ank");
    const first = await serve(dataDir, { AGENT_NONCE_ADMIN_KEY: adminKey }, ["--drain-timeout", "60s"]);
    const an = new AgentNonce({ baseUrl: first.apiUrl, apiKey: adminKey });
    await an.services.put("slow", {
      upstream: upstream.url,
      insecureUpstream: true,
      auth: { type: "bearer" },
      scopes: { read: ["GET /**"] },
    });
    await an.services.setCredential("slow", fakeSecret());
    const n = await an.nonces.create({ service: "slow", scope: "read", agent: "drain-bot", ttl: "10m" });

    for (const probe of ["/readyz", "/healthz"]) {
      expect((await fetch(`${first.gatewayUrl}${probe}`)).status).toBe(200);
    }
    expect((await fetch(`${first.apiUrl}/readyz`)).status).toBe(200);

    const gatewayPort = Number(new URL(first.gatewayUrl).port);
    const inFlight = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.get(
        `${first.gatewayUrl}/slow`,
        { headers: { authorization: `Bearer ${n.nonce}` }, agent: false },
        (res) => {
          let body = "";
          res.on("data", (d: Buffer) => {
            body += d.toString();
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on("error", reject);
    });
    await inUpstream;
    first.child.kill("SIGTERM");
    // The listener closes while the request is still held upstream.
    let closed = false;
    for (let i = 0; i < 200 && !closed; i++) {
      closed = await refused(gatewayPort);
      if (!closed) await new Promise((r) => setTimeout(r, 20));
    }
    expect(closed).toBe(true);
    expect(first.child.exitCode).toBeNull();

    release();
    expect(await inFlight).toEqual({ status: 200, body: '{"ok":true}' });
    expect(await first.exited).toBe(0);

    const second = await serve(dataDir, {});
    try {
      const an2 = new AgentNonce({ baseUrl: second.apiUrl, apiKey: adminKey });
      const types: string[] = [];
      for await (const e of an2.audit.iterate({ nonce: n.id })) types.push(e.type);
      expect(types).toContain("nonce.used");
      expect(types).toContain("nonce.completed");
    } finally {
      await second.stop();
    }
  });
});

describe.skipIf(skipPostgres)("two replicas start at once on an empty PostgreSQL database", () => {
  it("migrates it once; both become ready", async () => {
    const db = await createTestDatabase();
    const dirs = [0, 1].map(() => mkdtempSync(path.join(tmpdir(), "an-migrate-")));
    const env = {
      AGENT_NONCE_DATABASE_URL: db.url,
      AGENT_NONCE_MASTER_KEY: randomBytes(32).toString("base64"),
      AGENT_NONCE_ADMIN_KEY: generateToken("ank"),
    };
    const started = await Promise.allSettled(dirs.map((d) => serve(d, env, ["--role", "api"])));
    try {
      for (const s of started) expect(s.status === "rejected" ? String(s.reason).slice(0, 1500) : "ok").toBe("ok");
      for (const s of started) {
        if (s.status === "fulfilled") expect((await fetch(`${s.value.apiUrl}/readyz`)).status).toBe(200);
      }
      const rows = await queryDatabase<{ version: number; n: number }>(
        db.url,
        "SELECT version, count(*)::int AS n FROM schema_migrations GROUP BY version ORDER BY version",
      );
      expect(rows).toEqual(MIGRATIONS.map((m) => ({ version: m.version, n: 1 })));
    } finally {
      await Promise.all(started.map((s) => (s.status === "fulfilled" ? s.value.stop() : undefined)));
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
      await db.drop();
    }
  });
});
