import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateToken } from "../core/tokens.js";
import { type FakeUpstream, startFakeUpstream } from "../test/fake-upstream.js";
import { fakeSecret } from "./harness.js";
import { REPO_ROOT, type ServeProcess, serve } from "./process.js";

/**
 * The Python SDK (packages/python, standard library only) against a real server: `agent-nonce serve` as a child
 * process on free ports with a temp data dir, a fake upstream on 127.0.0.1 that echoes what it received, and
 * `python3 -m unittest discover` with their addresses and keys in its environment. Without python3 this test
 * fails in CI (CI set) and is skipped, loudly, elsewhere.
 */

const PY_DIR = path.join(REPO_ROOT, "packages/python");
const python = spawnSync("python3", ["--version"], { encoding: "utf8" });
const hasPython = python.status === 0;
if (!hasPython) {
  if (process.env.CI) throw new Error("python3 is required in CI for the Python SDK tests but was not found");
  console.warn("\n*** python3 not found: SKIPPING the Python SDK tests ***\n");
}

/** Runs python asynchronously: the fake upstream answers from this process, so its event loop must keep running. */
function runPython(
  args: string[],
  opts: { cwd: string; env: Record<string, string> },
): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("python3", args, { cwd: opts.cwd, env: opts.env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.once("error", reject);
    child.once("close", (status) => resolve({ status, out }));
  });
}

const NONCE_SHAPE = /\ban_[A-Za-z0-9]{20,}/;

describe.runIf(hasPython)("Python SDK against a real server", () => {
  let upstream: FakeUpstream;
  let server: ServeProcess;
  const dataDir = mkdtempSync(path.join(tmpdir(), "an-py-"));
  const adminKey = generateToken("ank");
  const secret = fakeSecret();

  beforeAll(async () => {
    upstream = await startFakeUpstream((req, res) => {
      const q = req.url.indexOf("?");
      const body = JSON.stringify({
        method: req.method,
        path: q === -1 ? req.url : req.url.slice(0, q),
        query: q === -1 ? "" : req.url.slice(q + 1),
        body: req.body.toString("utf8"),
        content_type: req.headers["content-type"] ?? null,
        authorized: req.headers.authorization === `Bearer ${secret}`,
        saw_nonce: NONCE_SHAPE.test(JSON.stringify(req.rawHeaders)) || NONCE_SHAPE.test(req.body.toString()),
      });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(body);
    });
    server = await serve(dataDir, { AGENT_NONCE_ADMIN_KEY: adminKey });
  }, 30_000);

  afterAll(async () => {
    await server?.stop();
    await upstream?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("python3 -m unittest discover passes, with no test skipped", { timeout: 120_000 }, async () => {
    const { status, out } = await runPython(["-m", "unittest", "discover", "-v"], {
      cwd: PY_DIR,
      env: {
        PATH: process.env.PATH ?? "",
        PYTHONDONTWRITEBYTECODE: "1",
        // Loopback only, whatever proxy the machine has configured.
        NO_PROXY: "127.0.0.1,localhost",
        no_proxy: "127.0.0.1,localhost",
        AGENT_NONCE_URL: server.apiUrl,
        AGENT_NONCE_API_KEY: adminKey,
        AGENT_NONCE_TEST_UPSTREAM: upstream.url,
        AGENT_NONCE_TEST_SECRET: secret,
      },
    });
    expect(status, out).toBe(0);
    // unittest's summary: "Ran N tests" then "OK" (a skip would say "OK (skipped=N)").
    const ran = /Ran (\d+) tests?/.exec(out);
    expect(Number(ran?.[1]), out).toBeGreaterThanOrEqual(10);
    expect(out).toMatch(/\nOK\s*$/);
    // Every request that reached the upstream carried the service's credential and no nonce.
    expect(upstream.requests.length).toBeGreaterThan(0);
    for (const q of upstream.requests) {
      expect(q.headers.authorization).toBe(`Bearer ${secret}`);
      expect(JSON.stringify(q.rawHeaders)).not.toMatch(NONCE_SHAPE);
    }
  });

  it("the example script runs against the same server", { timeout: 60_000 }, async () => {
    const { status, out } = await runPython([path.join(REPO_ROOT, "examples/python/issue_and_call.py")], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH ?? "",
        PYTHONDONTWRITEBYTECODE: "1",
        PYTHONPATH: PY_DIR,
        NO_PROXY: "127.0.0.1,localhost",
        no_proxy: "127.0.0.1,localhost",
        AGENT_NONCE_URL: server.apiUrl,
        AGENT_NONCE_API_KEY: adminKey,
        EXAMPLE_SERVICE: "things",
      },
    });
    expect(status, out).toBe(0);
    expect(out).toContain("status 200");
    expect(out).toContain("refused: scope_denied");
    expect(out).toContain("after the block: revoked");
    expect(out).not.toMatch(NONCE_SHAPE);
  });
});
