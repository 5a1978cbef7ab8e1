import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { AgentNonce, type Nonce } from "@agent-nonce/sdk";
import type { Command } from "commander";
import { loadConfig } from "../../config.js";
import type { RunningServer } from "../../server.js";
import { CheckFailed } from "../errors.js";
import type { CliIo } from "../io.js";
import { type MockStripe, startMockStripe } from "../mock-stripe.js";
import { auditTable } from "./audit.js";

/**
 * The seed's story in a few seconds, against a loopback mock of Stripe: the real key goes in write-only, the
 * orchestrator issues a nonce per task, the agent's calls are scoped and injected by the gateway, revoking the
 * task kills the nonce, and the audit trail shows all of it. Every step is checked; any surprise exits non-zero.
 */

const POLICY = {
  allow: [{ service: "stripe", scopes: ["read:customers"], max_ttl: "10m" }],
  agents: ["billing-*"],
};

/** Enough of a token to recognise it, not enough to use it. */
const mask = (token: string) => `${token.slice(0, 7)}…`;

/**
 * The server advertises `gateway_url` from its configured port, so the gateway gets a concrete free port rather
 * than 0 (the control plane can stay on 0: the demo is told its URL directly).
 */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function gatewayError(res: Response): Promise<string | null> {
  await res.arrayBuffer();
  return res.headers.get("x-agent-nonce-error");
}

export async function demo(io: CliIo): Promise<void> {
  const out = (s = "") => io.stdout.write(`${s}\n`);
  const failures: string[] = [];
  const check = (ok: boolean, what: string) => {
    out(`   ${ok ? "✓" : "✗"} ${what}`);
    if (!ok) failures.push(what);
  };
  let step = 0;
  const say = (s: string) => out(`\n${++step}. ${s}`);

  out("Agent Nonce demo: a nonce per task, a gateway that injects the real key, an audit trail.");
  const dataDir = mkdtempSync(path.join(tmpdir(), "agent-nonce-demo-"));
  let mock: MockStripe | null = null;
  let server: RunningServer | null = null;
  try {
    mock = await startMockStripe();
    say(`Started a mock "Stripe" upstream at ${mock.url} (it records the Authorization header it receives).`);

    const [{ startServer }, { createLogger }] = await Promise.all([
      import("../../server.js"),
      import("../../app/logger.js"),
    ]);
    const config = loadConfig({
      flags: { host: "127.0.0.1", apiPort: 0, gatewayPort: await freePort(), dataDir, logLevel: "silent" },
      env: {},
    });
    server = await startServer(config, { log: createLogger("silent") });
    if (!server.apiUrl || !server.adminKey) throw new CheckFailed("the server did not start with a fresh admin key");
    say(`Started Agent Nonce: control plane ${server.apiUrl}, gateway ${server.gatewayUrl} (SQLite in a temp dir).`);
    const admin = new AgentNonce({ baseUrl: server.apiUrl, apiKey: server.adminKey });

    const svc = await admin.services.put("stripe", { template: "stripe", upstream: mock.url, insecureUpstream: true });
    say(`Registered service "stripe" from the template, upstream pointed at the mock (insecure_upstream: loopback).`);
    const scopeNames = Object.keys(svc.scopes);
    out(
      `   catalog: ${scopeNames.slice(0, 4).join(", ")}${scopeNames.length > 4 ? `, … (${scopeNames.length} scopes)` : ""}`,
    );

    const secret = `sk_test_DEMO_${randomBytes(12).toString("hex")}`;
    const receipt = await admin.services.setCredential("stripe", secret);
    say("Stored the real Stripe key (a generated fake). It is write-only: the API answers with a fingerprint.");
    out(`   fingerprint ${receipt.fingerprint}`);
    const stored = await admin.services.get("stripe");
    check(!JSON.stringify(stored).includes(secret), "reading the service back never returns the key");

    const issuerKey = await admin.keys.create({ name: "billing-orchestrator", role: "issuer", policy: POLICY });
    say(`Created an issuer API key for the orchestrator, policy: ${JSON.stringify(POLICY)}`);
    const orchestrator = new AgentNonce({ baseUrl: server.apiUrl, apiKey: issuerKey.key });

    let revokedCount = -1;
    let nonceId = "";
    {
      await using n: Nonce = await orchestrator.nonces.create({
        service: "stripe",
        scope: "read:customers",
        ttl: "5m",
        agent: "billing-bot",
        task: "sync-42",
      });
      nonceId = n.id;
      say(`The orchestrator issued a nonce, exactly as in the seed:
   nonces.create({ service: "stripe", scope: "read:customers", ttl: "5m", agent: "billing-bot", task: "sync-42" })
   id ${n.id}   token ${mask(n.nonce)}   expires ${n.expiresAt.toISOString()}   gateway ${n.gatewayUrl}`);

      const before = mock.requests.length;
      say("The agent calls GET /v1/customers?limit=3 through the gateway, holding only the nonce.");
      const ok = await n.fetch("/v1/customers?limit=3");
      const body = (await ok.json().catch(() => null)) as { data?: Array<{ name?: string }> } | null;
      check(ok.status === 200, `HTTP ${ok.status}: ${(body?.data ?? []).map((c) => c.name).join(", ")}`);
      const seen = mock.requests.slice(before);
      check(
        seen.length === 1 && seen[0]?.authorization === `Bearer ${secret}`,
        "the mock Stripe received Authorization: Bearer sk_test_DEMO_… (the real key, injected by the gateway)",
      );
      check(
        seen.every((r) => !r.rawHeaders.some((h) => h.includes(n.nonce))),
        `the nonce ${mask(n.nonce)} never reached the upstream, and the agent never held the real key`,
      );
      check(!JSON.stringify(body).includes(secret), "the response the agent got does not contain the real key");

      say("The agent tries POST /v1/customers, which read:customers does not allow.");
      const denied = await n.fetch("/v1/customers", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "email=mallory%40example.test",
      });
      const deniedCode = await gatewayError(denied);
      check(denied.status === 403 && deniedCode === "scope_denied", `HTTP ${denied.status} ${deniedCode}`);
      check(mock.requests.length === before + 1, "the upstream never saw the denied request");

      say('The task ends: the orchestrator revokes everything issued for task "sync-42".');
      revokedCount = await orchestrator.nonces.revokeWhere({ task: "sync-42" });
      check(revokedCount === 1, `revoked ${revokedCount} nonce${revokedCount === 1 ? "" : "s"}`);

      say("The agent (or whoever found the nonce in a log) retries GET /v1/customers.");
      const dead = await n.fetch("/v1/customers?limit=3");
      const deadCode = await gatewayError(dead);
      check(dead.status === 401 && deadCode === "nonce_revoked", `HTTP ${dead.status} ${deadCode}`);
      check(mock.requests.length === before + 1, "the upstream never saw it");
    } // `await using`: the handle revokes itself here too (a no-op now; the server treats it as idempotent).

    const status = await admin.nonces.get(nonceId);
    check(status.status === "revoked", `nonce ${nonceId} status: ${status.status}`);

    say('The audit trail for task "sync-42", as a security team would read it:');
    const events = [];
    for await (const e of admin.audit.iterate({ task: "sync-42" })) events.push(e);
    out(
      auditTable(events)
        .split("\n")
        .map((l) => `   ${l}`)
        .join("\n"),
    );
    const kinds = events.map((e) => (e.reason ? `${e.type}:${e.reason}` : e.type));
    for (const want of ["nonce.issued", "nonce.used", "nonce.rejected:scope_denied", "nonce.rejected:nonce_revoked"]) {
      check(kinds.includes(want), `audit has ${want}`);
    }
    check(
      kinds.some((k) => k.startsWith("nonce.revoked")),
      "audit has nonce.revoked",
    );
    check(!JSON.stringify(events).includes(secret), "no audit event contains the real key");
  } finally {
    await server?.close().catch(() => undefined);
    await mock?.close().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
  if (failures.length > 0) {
    throw new CheckFailed(`${failures.length} step(s) did not behave as expected: ${failures.join("; ")}`);
  }
  out("\nDone: the agent only ever held a nonce; the real key stayed in Agent Nonce; every step is audited.");
}

export function registerDemo(program: Command, io: CliIo): void {
  program
    .command("demo")
    .description("the whole story in a few seconds, against a built-in mock Stripe (no network, no setup)")
    .action(() => demo(io));
}
