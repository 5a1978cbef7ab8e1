import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { AgentNonce } from "@agent-nonce/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventFromPublic, verifyChain } from "../core/audit-chain.js";
import type { AuditEvent } from "../core/types.js";
import { type FakeUpstream, startFakeUpstream } from "../test/fake-upstream.js";
import { type E2eServer, fakeSecret, startE2e } from "./harness.js";

/**
 * Sinks on the real server: a webhook receiver that never answers (small queue) costs the gateway nothing but
 * counted drops, while the JSONL file sink receives every event committed after start, re-verifiable as a chain.
 */
describe("audit sinks on the real server", () => {
  let server: E2eServer;
  let upstream: FakeUpstream;
  let hungServer: http.Server;
  const hung: http.ServerResponse[] = [];
  const secret = fakeSecret();
  const dataDir = mkdtempSync(path.join(tmpdir(), "an-sinks-"));
  const file = path.join(dataDir, "audit.jsonl");
  const tokens: string[] = [];

  beforeAll(async () => {
    upstream = await startFakeUpstream();
    hungServer = http.createServer((_req, res) => hung.push(res));
    await new Promise<void>((r) => hungServer.listen(0, "127.0.0.1", r));
    const port = (hungServer.address() as AddressInfo).port;
    server = await startE2e("sqlite", {
      dataDir,
      config: {
        audit: {
          sinks: [
            { type: "file", path: file, flush_ms: 5 },
            { type: "webhook", url: `http://127.0.0.1:${port}/hook`, max_queue: 5, timeout_ms: 200, flush_ms: 5 },
          ],
        },
      },
    });
  });
  afterAll(async () => {
    await server?.stop();
    for (const r of hung) r.destroy();
    hungServer.closeAllConnections();
    await new Promise((r) => hungServer.close(r));
    await upstream.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("keeps serving the gateway while the webhook hangs; drops are counted in /metrics", async () => {
    const an = new AgentNonce({ baseUrl: server.apiUrl as string, apiKey: server.adminApiKey });
    await an.services.put("echo", {
      upstream: upstream.url,
      insecureUpstream: true,
      auth: { type: "bearer" },
      scopes: { read: ["GET /**"] },
    });
    await an.services.setCredential("echo", secret);
    const n = await an.nonces.create({ service: "echo", scope: "read", agent: "bot", task: "sinks" });
    tokens.push(n.nonce);
    for (let round = 0; round < 5; round++) {
      const answers = await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          const r = await fetch(`${server.gatewayUrl}/v1/items/${i}?q=${i}`, {
            headers: { authorization: `Bearer ${n.nonce}` },
          });
          await r.arrayBuffer();
          return r.status;
        }),
      );
      expect(answers.every((s) => s === 200)).toBe(true);
    }
    expect(hung.length).toBeGreaterThan(0);
    const metrics = await (await fetch(`${server.apiUrl}/metrics`)).text();
    const dropped = /agent_nonce_audit_sink_dropped_total\{sink="webhook-1"\} (\d+)/.exec(metrics);
    expect(Number(dropped?.[1])).toBeGreaterThan(100);
    expect(metrics).not.toMatch(/agent_nonce_audit_sink_dropped_total\{sink="file-0"\}/);
    // The webhook URL and the file path never appear in metrics (bounded labels).
    expect(metrics).not.toContain("/hook");
  });

  it("the file sink holds every event after start, as a chain that re-verifies, with no secret", async () => {
    await server.stop();
    const text = readFileSync(file, "utf8");
    for (const needle of [secret, server.adminApiKey, ...tokens]) expect(text).not.toContain(needle);
    const events = text
      .trim()
      .split("\n")
      .map((l) => eventFromPublic(JSON.parse(l)));
    const first = events[0] as AuditEvent;
    expect(first.type).toBe("system.started");
    expect(events.filter((e) => e.type === "nonce.used")).toHaveLength(100);
    expect(verifyChain(events, { seq: first.seq - 1, hash: first.prevHash })).toEqual({
      ok: true,
      events: events.length,
    });
  });
});
