import { spawn, spawnSync } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentFixture, assertNoSecrets, startAgentFixture } from "../test/agent-fixture.js";
import { assertBuilt, REPO_ROOT } from "./process.js";

/**
 * examples/ cannot rot: they are compiled with their own tsconfig (a type error fails here) and run as real
 * processes against a real server with a fake upstream on 127.0.0.1, and what they print is checked.
 */

const EXAMPLES = path.join(REPO_ROOT, "examples");
let fx: AgentFixture;
const outputs: string[] = [];

beforeAll(async () => {
  assertBuilt();
  const tsc = spawnSync(process.execPath, [path.join(REPO_ROOT, "node_modules/typescript/bin/tsc"), "-p", EXAMPLES], {
    cwd: REPO_ROOT,
    encoding: "utf8",
  });
  expect(tsc.stdout + tsc.stderr).toBe("");
  expect(tsc.status).toBe(0);
  fx = await startAgentFixture();
});
afterAll(async () => {
  assertNoSecrets(outputs.join("\n"), fx.needles());
  await fx?.close();
});

function runExample(
  script: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; steps: Record<string, Record<string, unknown>> }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(EXAMPLES, "dist", script), ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    child.on("close", (code) => {
      outputs.push(out, err);
      const steps: Record<string, Record<string, unknown>> = {};
      for (const line of out.split("\n").filter(Boolean)) {
        const o = JSON.parse(line) as { step: string };
        steps[o.step] = o;
      }
      if (code !== 0) console.error(err);
      resolve({ code, steps });
    });
  });
}

describe("examples/", () => {
  it("orchestrator.ts: issue for a task, an allowed call, a refused one, revoked at the end", async () => {
    const r = await runExample("orchestrator.js", [], {
      AGENT_NONCE_URL: fx.apiUrl,
      AGENT_NONCE_API_KEY: await fx.issuerKey(),
    });
    expect(r.code).toBe(0);
    expect(r.steps.issued?.scopes).toEqual(["read:customers"]);
    expect(r.steps.allowed).toMatchObject({ status: 200, customers: ["cus_1"] });
    expect(r.steps.refused).toMatchObject({ status: 403, code: "scope_denied" });
    expect(r.steps.ended).toMatchObject({ id: r.steps.issued?.id, status: "revoked", uses: 1 });
  });

  it("mcp-client.ts + mcp/mcp.json (nonce mode): tools listed and called, the refusal a tool error", async () => {
    const n = await fx.issue();
    const r = await runExample("mcp-client.js", ["examples/mcp/mcp.json", "stripe"], {
      AGENT_NONCE_NONCE: n.nonce,
      AGENT_NONCE_GATEWAY_URL: fx.gatewayUrl,
    });
    expect(r.code).toBe(0);
    expect(r.steps.tools?.names).toEqual(["stripe_request", "stripe_scopes"]);
    expect(r.steps.scopes?.view).toMatchObject({ service: "stripe", uses_left: null });
    expect(r.steps.allowed).toMatchObject({ isError: false, status: 200 });
    expect(r.steps.refused?.isError).toBe(true);
    expect(String(r.steps.refused?.text)).toMatch(/^scope_denied: /);
  });

  it("mcp-client.ts + mcp/mcp.json (issuer mode): the session's nonce is revoked when the host leaves", async () => {
    const r = await runExample("mcp-client.js", ["examples/mcp/mcp.json", "stripe-issuer"], {
      AGENT_NONCE_URL: fx.apiUrl,
      AGENT_NONCE_API_KEY: await fx.issuerKey(),
    });
    expect(r.code).toBe(0);
    expect(r.steps.allowed).toMatchObject({ isError: false, status: 200 });
    expect(String(r.steps.refused?.text)).toMatch(/^scope_denied: /);
    const { nonces } = await fx.an.nonces.list({ agent: "claude-code", task: "claude-code-session" });
    expect(nonces).toHaveLength(1);
    expect(nonces[0]!.status).toBe("revoked");
  });
});
