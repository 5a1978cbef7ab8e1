import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import type BetterSqlite3 from "better-sqlite3";

/**
 * WAL checkpoints off the event loop. SQLite's automatic checkpoint runs inside the COMMIT that crosses
 * `wal_autocheckpoint` pages (1,000 by default): on the gateway's path that is every ~90 requests at one
 * connection, and it fsyncs the WAL and the database file while every other request waits. Here the server's
 * connection has automatic checkpoints turned off and a worker thread with its own connection runs
 * `wal_checkpoint(PASSIVE)` every INTERVAL_MS: passive checkpoints never block writers, the fsyncs happen on the
 * worker, and a checkpoint that copies many commits' worth of frames writes each distinct page once.
 *
 * Durability is unchanged: a commit is in the WAL before its promise settles, and recovery replays the WAL.
 * If the worker cannot start or dies, the connection goes back to automatic checkpoints (and says so in the
 * log), so the WAL can never grow without bound. `journal_size_limit` trims a WAL that grew in a burst.
 */

const INTERVAL_MS = 50;
const AUTOCHECKPOINT_PAGES = 1000;
const JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024;

// Plain CommonJS so it runs the same from dist/ and under the test runner (no .ts loader in a worker).
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.filename);
db.pragma("busy_timeout = 5000");
let stopped = false;
const tick = () => {
  if (stopped) return;
  try {
    db.pragma("wal_checkpoint(PASSIVE)");
  } catch (e) {
    // SQLITE_BUSY and friends: try again at the next tick.
  }
  setTimeout(tick, workerData.intervalMs);
};
parentPort.on("message", (m) => {
  if (m !== "stop") return;
  stopped = true;
  try {
    db.pragma("wal_checkpoint(PASSIVE)");
  } catch (e) {}
  db.close();
  parentPort.postMessage("stopped");
});
setTimeout(tick, workerData.intervalMs);
`;

export interface Checkpointer {
  /** Final passive checkpoint and worker exit; the server's connection gets automatic checkpoints back. */
  stop(): Promise<void>;
}

export function startCheckpointer(
  db: BetterSqlite3.Database,
  filename: string,
  onFallback: (reason: string) => void,
): Checkpointer | null {
  if (filename === ":memory:") return null;
  db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT}`);
  let worker: Worker;
  try {
    worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        filename,
        driver: createRequire(import.meta.url).resolve("better-sqlite3"),
        intervalMs: INTERVAL_MS,
      },
    });
  } catch {
    onFallback("the checkpoint worker could not start");
    return null;
  }
  db.pragma("wal_autocheckpoint = 0");
  let stopping = false;
  const fallback = (reason: string) => {
    if (db.open) db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
    if (!stopping) onFallback(reason);
  };
  worker.on("error", () => fallback("the checkpoint worker failed"));
  let exited = false;
  worker.on("exit", (code) => {
    exited = true;
    if (!stopping) fallback(`the checkpoint worker exited (${code})`);
  });
  // The worker must not keep a process alive that has nothing else to do.
  worker.unref();
  return {
    async stop() {
      if (stopping) return;
      stopping = true;
      if (!exited) {
        const stopped = new Promise<void>((resolve) => {
          worker.on("message", (m) => {
            if (m === "stopped") resolve();
          });
          worker.once("exit", () => resolve());
        });
        worker.postMessage("stop");
        await Promise.race([stopped, new Promise<void>((resolve) => setTimeout(resolve, 5_000).unref())]);
        await worker.terminate();
      }
      if (db.open) db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
    },
  };
}
