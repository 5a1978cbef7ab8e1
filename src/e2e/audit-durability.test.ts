import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { AgentNonce } from "@agent-nonce/sdk";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateToken } from "../core/tokens.js";
import { type FakeUpstream, startFakeUpstream } from "../test/fake-upstream.js";
import { fakeSecret } from "./harness.js";
import { REPO_ROOT, serve } from "./process.js";

/**
 * kill -9 under gateway load: every gateway request that got a response has its `nonce.used` event (written in
 * the consume transaction, before the credential was injected), and `agent-nonce audit verify` passes after
 * restart — and fails, non-zero, once a row is edited behind the server's back.
 */

const run = promisify(execFile);

async function cliVerify(apiUrl: string, apiKey: string): Promise<{ code: number; out: string }> {
  try {
    const r = await run(process.execPath, [path.join(REPO_ROOT, "bin/agent-nonce.js"), "audit", "verify"], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? "", AGENT_NONCE_URL: apiUrl, AGENT_NONCE_API_KEY: apiKey },
    });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, out: err.stdout + err.stderr };
  }
}

describe("audit durability across kill -9 (SQLite, real process)", () => {
  let upstream: FakeUpstream;
  const dataDir = mkdtempSync(path.join(tmpdir(), "an-audit-kill9-"));
  const adminKey = generateToken("ank");

  beforeAll(async () => {
    upstream = await startFakeUpstream();
  });
  afterAll(async () => {
    await upstream.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("keeps the nonce.used event of every answered gateway request; verify passes after restart", async () => {
    const first = await serve(dataDir, { AGENT_NONCE_ADMIN_KEY: adminKey });
    const an = new AgentNonce({ baseUrl: first.apiUrl, apiKey: adminKey });
    await an.services.put("echo", {
      upstream: upstream.url,
      insecureUpstream: true,
      auth: { type: "bearer" },
      scopes: { read: ["GET /**"] },
    });
    await an.services.setCredential("echo", fakeSecret());
    const n = await an.nonces.create({ service: "echo", scope: "read", agent: "loadbot", task: "kill9", ttl: "1h" });

    const answered: string[] = [];
    let stop = false;
    let i = 0;
    const workers = Array.from({ length: 8 }, async () => {
      while (!stop) {
        i += 1;
        const p = `/r/${i}`;
        try {
          const r = await fetch(`${first.gatewayUrl}${p}`, { headers: { authorization: `Bearer ${n.nonce}` } });
          await r.arrayBuffer();
          if (r.status === 200) answered.push(p);
        } catch {
          return; // the server is gone
        }
      }
    });
    while (answered.length < 300) await new Promise((r) => setTimeout(r, 5));
    await first.kill9();
    stop = true;
    await Promise.all(workers);

    const second = await serve(dataDir, {});
    try {
      const an2 = new AgentNonce({ baseUrl: second.apiUrl, apiKey: adminKey });
      const used = new Set<string>();
      for await (const e of an2.audit.iterate({ type: "nonce.used", nonce: n.id })) used.add(e.request?.path ?? "");
      const missing = answered.filter((p) => !used.has(p));
      expect(missing).toEqual([]);
      expect(answered.length).toBeGreaterThanOrEqual(300);
      const ok = await cliVerify(second.apiUrl, adminKey);
      expect(ok.out).toMatch(/^ok: \d+ events and \d+ signed checkpoints verify/);
      expect(ok.code).toBe(0);
    } finally {
      await second.stop();
    }

    // An edit behind the server's back: verify exits non-zero and names the seq.
    const db = new Database(path.join(dataDir, "agent-nonce.db"));
    db.prepare("UPDATE audit_events SET agent = 'mallory' WHERE seq = 5").run();
    db.close();
    const third = await serve(dataDir, {});
    try {
      const bad = await cliVerify(third.apiUrl, adminKey);
      expect(bad.code).toBe(1);
      expect(bad.out).toContain("first bad seq 5 (chain_broken)");
    } finally {
      await third.stop();
    }
  });
});
