import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** Runs the built CLI (`bin/agent-nonce.js`) as a real child process, as a user would. */

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = path.join(REPO_ROOT, "bin/agent-nonce.js");

export function assertBuilt(): void {
  if (!existsSync(path.join(REPO_ROOT, "dist/cli/main.js"))) {
    throw new Error("dist/ is missing: run `npm run build` first (npm test does it)");
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export interface ServeProcess {
  child: ChildProcess;
  apiUrl: string;
  gatewayUrl: string;
  output(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

export async function serve(
  dataDir: string,
  env: Record<string, string>,
  extraArgs: string[] = [],
): Promise<ServeProcess> {
  assertBuilt();
  const [apiPort, gatewayPort] = [await freePort(), await freePort()];
  const child = spawn(
    process.execPath,
    [
      BIN,
      "serve",
      "--data-dir",
      dataDir,
      "--api-port",
      String(apiPort),
      "--gateway-port",
      String(gatewayPort),
      ...extraArgs,
    ],
    {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? "", AGENT_NONCE_LOG_LEVEL: "warn", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  // A gateway-only replica has no control plane: wait on the gateway's own probe instead.
  const role = extraArgs[extraArgs.indexOf("--role") + 1] ?? env.AGENT_NONCE_ROLE;
  const probe = extraArgs.includes("--role") && role === "gateway" ? `http://127.0.0.1:${gatewayPort}` : apiUrl;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`agent-nonce serve exited early:\n${out}`);
    try {
      const r = await fetch(`${probe}/healthz`);
      if (r.ok) {
        await r.arrayBuffer();
        break;
      }
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`agent-nonce serve did not become healthy:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    apiUrl,
    gatewayUrl: `http://127.0.0.1:${gatewayPort}`,
    output: () => out,
    exited,
    async kill9() {
      child.kill("SIGKILL");
      await exited;
    },
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}
