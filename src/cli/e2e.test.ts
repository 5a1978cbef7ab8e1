import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { argv, type FakeIo, fakeIo } from "./fake-io.js";
import { run } from "./main.js";

/** The CLI end to end, in-process, against the real server (real sockets, SQLite in a temp dir). */

describe("agent-nonce demo", () => {
  it("tells the whole story, exits 0, and never prints the fake key", async () => {
    const io = fakeIo();
    const code = await run(argv("demo"), io);
    const out = io.out();
    expect(io.err(), out).toBe("");
    expect(code).toBe(0);
    expect(out).toContain("scope_denied");
    expect(out).toContain("nonce_revoked");
    expect(out).toMatch(/nonce\.issued/);
    expect(out).toMatch(/nonce\.revoked/);
    expect(out).not.toMatch(/✗/);
    expect(out).not.toMatch(/sk_test_DEMO_[0-9a-f]/);
    expect(out).not.toMatch(/an_[0-9A-Za-z]{20,}/);
  });
});

describe("agent-nonce serve + client commands", () => {
  let dataDir: string;
  let server: FakeIo;
  let served: Promise<number>;
  let env: Record<string, string>;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), "an-cli-e2e-"));
    server = fakeIo({ env: { AGENT_NONCE_LOG_LEVEL: "silent" } });
    served = run(argv("serve", "--api-port", "0", "--gateway-port", "0", "--data-dir", dataDir), server);
    const deadline = Date.now() + 15_000;
    while (!/Admin API key[^\n]*\n\s+(ank_\S+)/.test(server.out())) {
      if (server.err() || Date.now() > deadline) throw new Error(`serve did not start: ${server.out()}${server.err()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const apiUrl = /control plane\s+(\S+)/.exec(server.out())?.[1] as string;
    const adminKey = /Admin API key[^\n]*\n\s+(ank_\S+)/.exec(server.out())?.[1] as string;
    env = { AGENT_NONCE_URL: apiUrl, AGENT_NONCE_API_KEY: adminKey };
  });

  afterAll(async () => {
    server?.shutdown();
    await served;
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    const io = fakeIo({ env });
    const code = await run(argv(...args), io);
    return { code, out: io.out(), err: io.err() };
  }

  it("prints where it listens and the admin key once", () => {
    expect(server.out()).toMatch(/control plane\s+http:\/\/127\.0\.0\.1:\d+/);
    expect(server.out()).toMatch(/gateway\s+http:\/\/127\.0\.0\.1:\d+/);
    expect(server.out()).toContain("it will not be shown again");
    expect(server.out().match(/ank_/g)).toHaveLength(1);
  });

  it("service put, nonce create --json, nonce show, nonce revoke, audit query", async () => {
    const put = await cli(
      "service",
      "put",
      "stripe",
      "--template",
      "stripe",
      "--upstream",
      "http://127.0.0.1:9",
      "--insecure-upstream",
    );
    expect(put.err).toBe("");
    expect(put.code).toBe(0);
    expect(put.out).toContain("read:customers");
    const secret = `sk_test_FAKE_${randomBytes(8).toString("hex")}`;
    const setIo = fakeIo({ env, stdin: `${secret}\n` });
    expect(await run(argv("credential", "set", "stripe"), setIo)).toBe(0);
    expect(setIo.out()).toMatch(/^credential set for stripe \(fingerprint \S+\)\n$/);
    const listed = await cli("service", "list");
    expect(listed.out).toMatch(/stripe\s+stripe\s+http:\/\/127\.0\.0\.1:9\s+bearer/);
    expect(listed.out + setIo.out() + setIo.err()).not.toContain(secret);

    const created = await cli(
      "nonce",
      "create",
      "--service",
      "stripe",
      "--scope",
      "read:customers",
      "--ttl",
      "5m",
      "--agent",
      "billing-bot",
      "--task",
      "sync-42",
      "--json",
    );
    expect(created.err).toBe("");
    const n = JSON.parse(created.out) as Record<string, unknown>;
    expect(n).toMatchObject({
      service: "stripe",
      scopes: ["read:customers"],
      agent: "billing-bot",
      task: "sync-42",
      max_uses: null,
    });
    expect(n.nonce).toMatch(/^an_/);
    expect(n.id).toMatch(/^nce_/);
    expect(typeof n.expires_at).toBe("string");

    const shown = await cli("nonce", "show", n.id as string);
    expect(shown.code).toBe(0);
    expect(shown.out).toMatch(/status\s+active/);
    expect(shown.out).not.toContain(n.nonce as string);

    const shownJson = JSON.parse((await cli("nonce", "show", n.id as string, "--json")).out);
    expect(shownJson).toMatchObject({ id: n.id, status: "active", uses: 0, revoked_at: null });

    expect(await cli("nonce", "revoke", n.id as string)).toEqual({ code: 0, out: `revoked ${n.id}\n`, err: "" });
    expect(JSON.parse((await cli("nonce", "show", n.id as string, "--json")).out).status).toBe("revoked");

    const audit = await cli("audit", "query", "--task", "sync-42", "--limit", "1", "--all");
    expect(audit.code).toBe(0);
    expect(audit.out).toMatch(/nonce\.issued\s+billing-bot\s+sync-42/);
    expect(audit.out).toMatch(/nonce\.revoked/);
    expect(audit.out).not.toContain(n.nonce as string);
  });

  it("issuer keys from the CLI are held to their policy", async () => {
    const policy = JSON.stringify({
      allow: [{ service: "stripe", scopes: ["read:customers"] }],
      agents: ["billing-*"],
    });
    const created = await cli("key", "create", "--name", "orch", "--role", "issuer", "--policy", policy, "--json");
    expect(created.code).toBe(0);
    const key = JSON.parse(created.out).key as string;
    const asIssuer = fakeIo({ env: { ...env, AGENT_NONCE_API_KEY: key } });
    expect(
      await run(
        argv("nonce", "create", "--service", "stripe", "--scope", "read:customers", "--agent", "other-bot"),
        asIssuer,
      ),
    ).toBe(1);
    expect(asIssuer.err()).toMatch(/^error: forbidden: /);
    const list = await cli("key", "list");
    expect(list.out).toMatch(/orch\s+issuer/);
    expect(list.out).not.toContain(key);
  });

  it("service templates lists the built-in templates", async () => {
    const r = await cli("service", "templates");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^stripe\s+https:\/\/api\.stripe\.com\s+bearer\s+read:customers,/m);
  });

  it("an unknown nonce is `error: nonce_not_found` and exit 1", async () => {
    const r = await cli("nonce", "show", `nce_${"0".repeat(26)}`);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: nonce_not_found: /);
  });
});
