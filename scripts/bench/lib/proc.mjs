import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";

/**
 * Child processes of the bench: every process started here is tracked and stopped on exit, on error and on
 * Ctrl-C. Servers run pinned to CPU 0 (`taskset -c 0`), the load generator (this process) to CPU 1.
 */

const children = new Set();
let hooked = false;

export const SERVER_CPU = "0";
export const LOAD_CPU = "1";

export function has(bin) {
  return spawnSync("sh", ["-c", `command -v ${bin}`], { stdio: "ignore" }).status === 0;
}

export function pinSelf(cpu) {
  if (!has("taskset")) return false;
  try {
    execFileSync("taskset", ["-cp", cpu, String(process.pid)], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

function hook() {
  if (hooked) return;
  hooked = true;
  const stopAll = () => {
    for (const c of children) {
      try {
        c.kill("SIGKILL");
      } catch {}
    }
  };
  process.on("exit", stopAll);
  for (const sig of ["SIGINT", "SIGTERM"]) {
    process.on(sig, () => {
      console.error(`\n[bench] ${sig}: stopping ${children.size} child process(es)`);
      stopAll();
      process.exit(130);
    });
  }
}

/** Starts `cmd args` pinned to `cpu` (if taskset exists); resolves once `ready(line)` matches a stdout line. */
export function startPinned(cmd, args, { cpu = SERVER_CPU, ready, env, timeoutMs = 30_000, name = cmd } = {}) {
  hook();
  const pinned = has("taskset") && cpu !== null;
  const child = spawn(pinned ? "taskset" : cmd, pinned ? ["-c", cpu, cmd, ...args] : args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  children.add(child);
  child.on("exit", () => children.delete(child));
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`${name} did not become ready in ${timeoutMs} ms`)), timeoutMs);
    const fail = (e) => {
      clearTimeout(timer);
      stop(child);
      reject(new Error(`${e.message}\n${stderr}`));
    };
    child.on("exit", (code) => fail(new Error(`${name} exited early with code ${code}`)));
    child.on("error", fail);
    let buf = "";
    const onData = (d) => {
      buf += d;
      let i = buf.indexOf("\n");
      while (i !== -1) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const v = ready ? ready(line) : line;
        if (v) {
          clearTimeout(timer);
          child.removeAllListeners("exit");
          child.on("exit", () => children.delete(child));
          child.stdout.off("data", onData);
          child.stdout.resume();
          resolve({ child, pid: child.pid, info: v, stderr: () => stderr });
          return;
        }
        i = buf.indexOf("\n");
      }
    };
    child.stdout.on("data", onData);
    if (!ready) {
      // No readiness line expected: give it a moment.
      setTimeout(() => {
        clearTimeout(timer);
        child.removeAllListeners("exit");
        child.on("exit", () => children.delete(child));
        resolve({ child, pid: child.pid, info: null, stderr: () => stderr });
      }, 300);
    }
  });
}

/** SIGTERM, then SIGKILL after a grace period. */
export function stop(child, graceMs = 5000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {}
    }, graceMs);
    child.once("exit", () => {
      clearTimeout(t);
      children.delete(child);
      resolve();
    });
    try {
      child.kill("SIGTERM");
    } catch {
      resolve();
    }
  });
}

/** Runs a command to completion (pinned to `cpu` if given); returns stdout. Throws on a non-zero exit. */
export function runPinned(cmd, args, { cpu = null, env, timeoutMs = 600_000 } = {}) {
  hook();
  const pinned = cpu !== null && has("taskset");
  const child = spawn(pinned ? "taskset" : cmd, pinned ? ["-c", cpu, cmd, ...args] : args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  children.add(child);
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => {
    out += d;
  });
  child.stderr.on("data", (d) => {
    err = (err + d).slice(-8000);
  });
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("exit", (code, sig) => {
      clearTimeout(t);
      children.delete(child);
      if (code === 0) resolve(out);
      else
        reject(new Error(`${cmd} ${args.slice(0, 3).join(" ")}… exited ${code ?? sig}\n${err}\n${out.slice(-2000)}`));
    });
  });
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** RSS of a process in KiB from /proc (null when unavailable). */
export function rssKiB(pid) {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Installs missing Debian packages (full bench only), printing exactly what it installs. */
export function ensureDebianPackages(wanted) {
  const missing = wanted.filter(({ bin }) => !has(bin) && !existsSync(bin));
  if (missing.length === 0) return [];
  const pkgs = [...new Set(missing.map((m) => m.pkg))];
  if (!has("apt-get")) {
    console.log(`[bench] missing ${pkgs.join(", ")} and no apt-get: those baselines will be skipped`);
    return [];
  }
  console.log(`[bench] installing from Debian: ${pkgs.join(" ")}`);
  const asRoot = process.getuid?.() === 0 ? [] : ["sudo"];
  const run = (args) => spawnSync(asRoot[0] ?? args[0], asRoot.length ? args : args.slice(1), { stdio: "inherit" });
  run(["apt-get", "update"]);
  const r = run(["apt-get", "install", "-y", "--no-install-recommends", ...pkgs]);
  if (r.status !== 0) console.log(`[bench] apt-get install failed (${r.status}); affected baselines will be skipped`);
  return pkgs;
}
