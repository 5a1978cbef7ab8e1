import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";

/** The built CLI as a user runs it: `node bin/agent-nonce.js …` in a child process (npm test builds first). */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = path.join(ROOT, "bin/agent-nonce.js");

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

function spawnCli(
  args: string[],
  opts: { env?: Record<string, string>; stdin?: string; onOut?: (all: string) => void } = {},
) {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", ...opts.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
    opts.onOut?.(out);
  });
  child.stderr.on("data", (d: Buffer) => {
    err += d.toString();
  });
  child.stdin.end(opts.stdin ?? "");
  const done = new Promise<Result>((resolve) =>
    child.once("close", (code, signal) => resolve({ code, signal, out, err })),
  );
  return { child, done };
}

beforeAll(() => {
  if (!existsSync(path.join(ROOT, "dist/cli/main.js"))) throw new Error("dist/ is missing: run `npm run build` first");
});

describe("bin/agent-nonce.js", () => {
  it("demo exits 0, mentions scope_denied and nonce_revoked, and prints no key", async () => {
    const r = await spawnCli(["demo"]).done;
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain("scope_denied");
    expect(r.out).toContain("nonce_revoked");
    expect(r.out).not.toMatch(/sk_test_DEMO_[0-9a-f]/);
  });

  it("credential set refuses a secret on argv (exit 2, not echoed)", async () => {
    const secret = `sk_test_FAKE_${randomBytes(8).toString("hex")}`;
    const r = await spawnCli(["credential", "set", "stripe", secret], {
      env: { AGENT_NONCE_API_KEY: "ank_unused", AGENT_NONCE_URL: "http://127.0.0.1:1" },
    }).done;
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^error: invalid_request: /);
    expect(r.out + r.err).not.toContain(secret);
  });

  it("serve prints its URLs and the admin key once, and exits 0 on SIGTERM", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "an-cli-bin-"));
    try {
      let ready: () => void = () => undefined;
      const started = new Promise<void>((r) => {
        ready = r;
      });
      const { child, done } = spawnCli(
        ["serve", "--api-port", "0", "--gateway-port", "0", "--data-dir", dataDir, "--log-level", "silent"],
        { onOut: (all) => /ank_\S+\n/.test(all) && ready() },
      );
      await Promise.race([started, done]);
      child.kill("SIGTERM");
      const r = await done;
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/control plane\s+http:\/\/127\.0\.0\.1:\d+/);
      expect(r.out).toContain("it will not be shown again");
      expect(r.out.match(/ank_/g)).toHaveLength(1);

      // A second start on the same data dir does not print (or have) a new admin key.
      let stopped = false;
      const again = spawnCli(
        ["serve", "--api-port", "0", "--gateway-port", "0", "--data-dir", dataDir, "--log-level", "silent"],
        {
          onOut: (all) => {
            if (stopped || !/data dir/.test(all)) return;
            stopped = true;
            again.child.kill("SIGINT");
          },
        },
      );
      const r2 = await again.done;
      expect(r2.code).toBe(0);
      expect(r2.out).not.toContain("ank_");
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
