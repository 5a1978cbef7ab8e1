import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { AgentNonce } from "@agent-nonce/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateToken } from "../core/tokens.js";
import { type FakeUpstream, startFakeUpstream } from "../test/fake-upstream.js";
import { fakeSecret } from "./harness.js";
import { serve } from "./process.js";

/**
 * A nonce whose 201 was returned survives `kill -9` of the server and works after restart; nothing is
 * half-written; and no token or secret is readable anywhere in the data dir.
 */
describe("durability across kill -9 (SQLite, real process)", () => {
  let upstream: FakeUpstream;
  const dataDir = mkdtempSync(path.join(tmpdir(), "an-kill9-"));
  const adminKey = generateToken("ank");
  const secret = fakeSecret();

  beforeAll(async () => {
    upstream = await startFakeUpstream();
  });
  afterAll(async () => {
    await upstream.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("keeps every acknowledged nonce and its audit row", async () => {
    const first = await serve(dataDir, { AGENT_NONCE_ADMIN_KEY: adminKey });
    const an = new AgentNonce({ baseUrl: first.apiUrl, apiKey: adminKey });
    await an.services.put("echo", {
      upstream: upstream.url,
      insecureUpstream: true,
      auth: { type: "bearer" },
      scopes: { read: ["GET /**"] },
    });
    await an.services.setCredential("echo", secret);

    // Issue continuously and kill -9 while requests are in flight.
    const acknowledged: Array<{ id: string; nonce: string }> = [];
    let stop = false;
    const workers = Array.from({ length: 8 }, async () => {
      while (!stop) {
        try {
          const n = await an.nonces.create({
            service: "echo",
            scope: "read",
            agent: "durable-bot",
            task: "kill9",
            ttl: "10m",
          });
          acknowledged.push({ id: n.id, nonce: n.nonce });
        } catch {
          return; // the server is gone
        }
      }
    });
    while (acknowledged.length < 200) await new Promise((r) => setTimeout(r, 5));
    await first.kill9();
    stop = true;
    await Promise.all(workers);

    const second = await serve(dataDir, {});
    try {
      expect(second.output()).not.toContain("ank_");
      const an2 = new AgentNonce({ baseUrl: second.apiUrl, apiKey: adminKey });
      for (const n of acknowledged) {
        const s = await an2.nonces.get(n.id);
        expect(s.status).toBe("active");
      }
      const sample = acknowledged.filter((_, i) => i % 20 === 0);
      for (const n of sample) {
        const r = await fetch(`${second.gatewayUrl}/anything`, { headers: { authorization: `Bearer ${n.nonce}` } });
        await r.arrayBuffer();
        expect(r.status).toBe(200);
      }
      expect(upstream.requests.at(-1)?.headers.authorization).toBe(`Bearer ${secret}`);
      const issued = new Set<string>();
      for await (const e of an2.audit.iterate({ type: "nonce.issued", task: "kill9" })) issued.add(e.nonceId ?? "");
      for (const n of acknowledged) expect(issued.has(n.id)).toBe(true);
    } finally {
      await second.stop();
    }

    // Nothing secret is readable in the data dir: no token, no admin key, no credential.
    for (const f of readdirSync(dataDir)) {
      const bytes = readFileSync(path.join(dataDir, f));
      expect(bytes.includes(secret), f).toBe(false);
      expect(bytes.includes(adminKey), f).toBe(false);
      for (const n of acknowledged.slice(0, 50)) expect(bytes.includes(n.nonce), f).toBe(false);
    }
  });
});
