import { spawn } from "node:child_process";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertBuilt, REPO_ROOT } from "../e2e/process.js";
import { type AgentFixture, assertNoSecrets, startAgentFixture } from "../test/agent-fixture.js";

/**
 * `agent-nonce mcp` as a host runs it: the built CLI spawned over stdio and driven by the official MCP Client
 * (StdioClientTransport), against a real server and a fake upstream on 127.0.0.1.
 */

const BIN = path.join(REPO_ROOT, "bin/agent-nonce.js");
let fx: AgentFixture;
/** Everything any spawned MCP server printed on stderr, and every tool list/result, checked for secrets. */
const seen: string[] = [];

beforeAll(async () => {
  assertBuilt();
  fx = await startAgentFixture();
});
afterAll(async () => {
  const all = seen.join("\n");
  expect(all.length).toBeGreaterThan(0);
  assertNoSecrets(all, fx.needles());
  assertNoSecrets(fx.server.logs(), fx.needles());
  await fx?.close();
});

interface Session {
  client: Client;
  stderr(): string;
  close(): Promise<void>;
}

async function connect(env: Record<string, string>, args: string[] = []): Promise<Session> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, "mcp", ...args],
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? "", ...env },
    stderr: "pipe",
  });
  let err = "";
  transport.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const client = new Client({ name: "agent-nonce-test-host", version: "0.0.0" });
  await client.connect(transport);
  return {
    client,
    stderr: () => err,
    async close() {
      await client.close();
      seen.push(err);
    },
  };
}

/** Runs `agent-nonce mcp` to its exit (a start-up failure), stdin open as a host would leave it. */
function runToExit(
  env: Record<string, string>,
  args: string[] = [],
): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, "mcp", ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stderr = "";
    let stdout = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.on("close", (code) => {
      seen.push(stderr, stdout);
      resolve({ code, stderr, stdout });
    });
  });
}

type ToolResult = { isError?: boolean; content: Array<{ type: string; text?: string }>; structuredContent?: unknown };
const textOf = (r: ToolResult) => r.content.map((c) => c.text ?? "").join("\n");

async function call(s: Session, name: string, args: Record<string, unknown> = {}): Promise<ToolResult> {
  const r = (await s.client.callTool({ name, arguments: args })) as ToolResult;
  seen.push(JSON.stringify(r));
  return r;
}

describe("agent-nonce mcp, nonce mode", () => {
  let s: Session;
  let nonceId: string;
  beforeAll(async () => {
    const n = await fx.issue({ maxUses: 10 });
    nonceId = n.id;
    s = await connect({ AGENT_NONCE_NONCE: n.nonce, AGENT_NONCE_GATEWAY_URL: fx.gatewayUrl });
  });
  afterAll(async () => {
    await s?.close();
  });

  it("names its tools after the service and lists the allowed routes in the description", async () => {
    const { tools } = await s.client.listTools();
    seen.push(JSON.stringify(tools));
    expect(tools.map((t) => t.name).sort()).toEqual(["stripe_request", "stripe_scopes"]);
    const req = tools.find((t) => t.name === "stripe_request")!;
    expect(req.description).toContain("GET /v1/customers");
    expect(req.description).toContain("GET /v1/customers/{id}");
    expect(req.description).not.toContain("POST");
    expect(req.inputSchema.required).toEqual(["method", "path"]);
  });

  it("a tool call goes through the gateway: status, content type, body; the real key went upstream", async () => {
    const before = fx.upstream.requests.length;
    const r = await call(s, "stripe_request", { method: "GET", path: "/v1/customers", query: { limit: 3 } });
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent).toMatchObject({ status: 200, content_type: "application/json" });
    expect(JSON.parse((r.structuredContent as { body: string }).body).data[0].id).toBe("cus_1");
    expect(textOf(r)).toContain("HTTP 200");
    const got = fx.upstream.requests.slice(before);
    expect(got).toHaveLength(1);
    expect(got[0]!.url).toBe("/v1/customers?limit=3");
    expect(got[0]!.headers.authorization).toBe(`Bearer ${fx.secret}`);
  });

  it("an upstream echo of the credential comes back scrubbed", async () => {
    const r = await call(s, "stripe_request", { method: "GET", path: "/v1/customers/cus_echo" });
    expect(textOf(r)).toContain("REDACTED");
    expect(textOf(r)).not.toContain(fx.secret);
  });

  it("an upstream 404 is a result, not a refusal", async () => {
    const r = await call(s, "stripe_request", { method: "GET", path: "/v1/customers/cus_missing" });
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent).toMatchObject({ status: 404 });
  });

  it("a route outside the scopes is a tool error with scope_denied, never forwarded, and the server lives on", async () => {
    const before = fx.upstream.requests.length;
    const r = await call(s, "stripe_request", { method: "POST", path: "/v1/charges", body: { amount: 100 } });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/^scope_denied: .*\(HTTP 403\)$/);
    expect(fx.upstream.requests.length).toBe(before);
    const again = await call(s, "stripe_request", { method: "GET", path: "/v1/customers" });
    expect(again.isError).toBeFalsy();
  });

  it("a path that would leave the gateway is refused before anything is sent", async () => {
    const before = fx.upstream.requests.length;
    for (const p of ["//127.0.0.1:1/x", "/v1\\customers", "http://127.0.0.1:1/"]) {
      const r = await call(s, "stripe_request", { method: "GET", path: p });
      expect(r.isError).toBe(true);
      expect(textOf(r)).toMatch(/^invalid_request: /);
    }
    expect(fx.upstream.requests.length).toBe(before);
  });

  it("<service>_scopes tells routes, constraints, expiry and uses left, without counting a use", async () => {
    const a = await call(s, "stripe_scopes");
    const b = await call(s, "stripe_scopes");
    const view = a.structuredContent as Record<string, unknown>;
    expect(Object.keys(view).sort()).toEqual(["constraints", "expires_at", "routes", "service", "uses_left"]);
    expect(view.service).toBe("stripe");
    expect(view.routes).toContain("GET /v1/customers");
    expect(b.structuredContent).toEqual(view);
    expect(view.uses_left).toBe(10 - (await fx.an.nonces.get(nonceId)).uses);
  });

  it("once the nonce is revoked, calls are tool errors with nonce_revoked", async () => {
    await fx.an.nonces.revoke(nonceId);
    const r = await call(s, "stripe_request", { method: "GET", path: "/v1/customers" });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/^nonce_revoked: /);
    const v = await call(s, "stripe_scopes");
    expect(v.isError).toBe(true);
    expect(textOf(v)).toMatch(/^nonce_revoked: /);
  });
});

describe("agent-nonce mcp, bad configuration", () => {
  it("no environment at all: usage on stderr, exit 2, nothing on stdout", async () => {
    const r = await runToExit({});
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("AGENT_NONCE_NONCE");
    expect(r.stdout).toBe("");
  });

  it("a nonce without a gateway URL: exit 2", async () => {
    const n = await fx.issue();
    const r = await runToExit({ AGENT_NONCE_NONCE: n.nonce });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("AGENT_NONCE_GATEWAY_URL");
  });

  it("issuer mode without an API key: exit 2", async () => {
    const r = await runToExit({ AGENT_NONCE_URL: fx.apiUrl }, [
      "--service",
      "stripe",
      "--scope",
      "read:customers",
      "--agent",
      "a",
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("AGENT_NONCE_API_KEY");
  });

  it.each(["revoked", "expired", "garbage"] as const)(
    "a %s nonce at start: its code on stderr, exit 1",
    async (kind) => {
      let token: string;
      let code: string;
      if (kind === "garbage") {
        token = "an_notarealnonceatall";
        code = "nonce_invalid";
        fx.tokens.push(token);
      } else {
        const n = await fx.issue(kind === "expired" ? { ttl: 1 } : {});
        token = n.nonce;
        if (kind === "revoked") await n.revoke();
        else fx.clock.advance(2_000);
        code = `nonce_${kind}`;
      }
      const r = await runToExit({ AGENT_NONCE_NONCE: token, AGENT_NONCE_GATEWAY_URL: fx.gatewayUrl });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`error: ${code}: the nonce in AGENT_NONCE_NONCE cannot be used`);
      expect(r.stdout).toBe("");
    },
  );

  it("an unreachable gateway: unavailable, exit 1", async () => {
    const n = await fx.issue();
    const r = await runToExit({ AGENT_NONCE_NONCE: n.nonce, AGENT_NONCE_GATEWAY_URL: "http://127.0.0.1:1" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: unavailable:");
  });
});

describe("agent-nonce mcp, issuer mode", () => {
  it("issues a nonce for the session, serves it, and revokes it when the host closes stdin", async () => {
    const key = await fx.issuerKey();
    const task = `mcp-issuer-${Date.now()}`;
    const s = await connect({ AGENT_NONCE_URL: fx.apiUrl, AGENT_NONCE_API_KEY: key }, [
      "--service",
      "stripe",
      "--scope",
      "read:customers",
      "--ttl",
      "10m",
      "--agent",
      "claude-desktop",
      "--task",
      task,
    ]);
    const { nonces } = await fx.an.nonces.list({ task });
    expect(nonces).toHaveLength(1);
    expect(nonces[0]!.status).toBe("active");
    expect(nonces[0]!.agent).toBe("claude-desktop");
    const r = await call(s, "stripe_request", { method: "GET", path: "/v1/customers" });
    expect(r.structuredContent).toMatchObject({ status: 200 });
    const denied = await call(s, "stripe_request", { method: "DELETE", path: "/v1/customers/cus_1" });
    expect(textOf(denied)).toMatch(/^scope_denied: /);
    await s.close();
    expect((await fx.an.nonces.get(nonces[0]!.id)).status).toBe("revoked");
    expect(s.stderr()).toContain(`issued ${nonces[0]!.id}`);
    expect(s.stderr()).toContain("nonce revoked");
  });

  it("a refused issuance (outside the key's policy) exits 1 with the API's code", async () => {
    const key = await fx.issuerKey();
    const r = await runToExit({ AGENT_NONCE_URL: fx.apiUrl, AGENT_NONCE_API_KEY: key }, [
      "--service",
      "stripe",
      "--scope",
      "write:customers",
      "--agent",
      "a",
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: (forbidden|scope_unknown): /m);
  });
});
