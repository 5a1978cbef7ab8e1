import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { AgentNonce } from "@agent-nonce/sdk";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { rotateMasterKey } from "../app/master-key-rotation.js";
import { loadConfig } from "../config.js";
import { systemClock } from "../core/clock.js";
import { kekVersionOf } from "../core/crypto.js";
import { generateToken } from "../core/tokens.js";
import { startFakeUpstream } from "../test/fake-upstream.js";
import { fakeSecret, startE2e } from "./harness.js";

/** SECURITY.md: master-key rotation re-wraps data keys; after --retire the old key is gone and nothing breaks. */
describe("master key rotation (offline, SQLite)", () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), "an-rotate-"));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it("re-wraps every credential under a new version, retires the old one, and the gateway still injects the secret", async () => {
    const upstream = await startFakeUpstream();
    const adminKey = generateToken("ank");
    const secret = fakeSecret();
    try {
      const first = await startE2e("sqlite", { dataDir, config: { adminKey } });
      const an = new AgentNonce({ baseUrl: first.apiUrl as string, apiKey: adminKey });
      for (const name of ["alpha", "beta"]) {
        await an.services.put(name, {
          upstream: upstream.url,
          insecureUpstream: true,
          auth: { type: "bearer" },
          scopes: { read: ["GET /**"] },
        });
        await an.services.setCredential(name, secret);
      }
      const before = await an.services.get("alpha");
      await first.stop();

      const result = await rotateMasterKey(loadConfig({ flags: { dataDir } }), systemClock, { retire: true });
      expect(result).toEqual({ fromVersion: 1, toVersion: 2, credentials: 2, retired: [1] });
      const keyFile = path.join(dataDir, "master.key");
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      expect(Object.keys(JSON.parse(readFileSync(keyFile, "utf8")).keys)).toEqual(["2"]);
      const db = new Database(path.join(dataDir, "agent-nonce.db"), { readonly: true });
      const rows = db.prepare("SELECT credential FROM services").all() as Array<{ credential: Buffer }>;
      db.close();
      expect(rows.map((r) => kekVersionOf(r.credential))).toEqual([2, 2]);

      const second = await startE2e("sqlite", { dataDir, config: { adminKey } });
      try {
        const an2 = new AgentNonce({ baseUrl: second.apiUrl as string, apiKey: adminKey });
        expect((await an2.services.get("alpha")).credential?.fingerprint).toBe(before.credential?.fingerprint);
        const n = await an2.nonces.create({ service: "beta", scope: "read", agent: "rotation-bot" });
        const r = await n.fetch("/x");
        expect(r.status).toBe(200);
        expect(upstream.requests.at(-1)?.headers.authorization).toBe(`Bearer ${secret}`);
        const { events } = await an2.audit.list({ type: "master_key.rotated" });
        expect(events).toHaveLength(1);
        expect(events[0]?.data).toEqual({ from_version: 1, to_version: 2, credentials: 2 });
      } finally {
        await second.stop();
      }
    } finally {
      await upstream.close();
    }
  });

  it("refuses to rotate a master key given in the environment", async () => {
    const config = loadConfig({
      flags: { dataDir },
      env: { AGENT_NONCE_MASTER_KEY: Buffer.alloc(32, 7).toString("base64") },
    });
    await expect(rotateMasterKey(config, systemClock)).rejects.toThrow(/rotate it where it is stored/);
  });
});
