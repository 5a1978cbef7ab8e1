import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import type BetterSqlite3 from "better-sqlite3";
import { autocheckpointPragma, journalSizeLimitPragma, PRAGMAS } from "./sqlite-sql.js";

/**
 * WAL checkpoints off the event loop. SQLite's automatic checkpoint runs inside the COMMIT that crosses
 * `wal_autocheckpoint` pages (1,000 by default): on the gateway's path that is every ~90 requests at one
 * connection, and it fsyncs the WAL and the database file while every other request waits. Here the server's
 * connection has automatic checkpoints turned off and a worker thread with its own connection runs
 * `wal_checkpoint(PASSIVE)` every INTERVAL_MS (200 ms): passive checkpoints never block writers, the fsyncs
 * happen on the worker, and a checkpoint that copies many commits' worth of frames writes each distinct page
 * once.
 *
 * Durability is unchanged: a commit is in the WAL before its promise settles, and recovery replays the WAL.
 * If the worker cannot start or dies, the connection goes back to automatic checkpoints (and says so in the
 * log), so the WAL can never grow without bound.
 *
 * Trimming a WAL that grew in a burst is the worker's job too. SQLite's `journal_size_limit` truncates the
 * file in the first COMMIT after the WAL restarts: on the server's connection that ftruncate stalled the event
 * loop for 30 ms and more on every restart under load (B3's p99 at 32 connections: a median of 48 ms with it,
 * 11 ms without; docs/BENCHMARKS.md). So the server's connection never truncates (-1) while the worker runs;
 * the worker runs `wal_checkpoint(TRUNCATE)` once the WAL file is over TRIM_BYTES, every frame is in the
 * database file and no frame has been added for IDLE_TICKS ticks, i.e. when the server is idle. It does not
 * wait for a writer (busy_timeout 0: SQLite then falls back to a passive checkpoint), and a writer that comes
 * in meanwhile waits on its own busy timeout for one ftruncate. The fallback to automatic checkpoints puts the
 * connection's own limit back.
 */

/** A checkpoint every 200 ms copies each page once for all the commits since the last (was 50 ms: see above). */
const INTERVAL_MS = 200;
const AUTOCHECKPOINT_PAGES = 1000;
export const TRIM_BYTES = 64 * 1024 * 1024;
/** Ticks with no new frame before the worker trims: ~1 s idle. */
const IDLE_TICKS = Math.ceil(1000 / INTERVAL_MS);

// Plain CommonJS so it runs the same from dist/ and under the test runner (no .ts loader in a worker). Its pragmas
// come in workerData (WORKER_PRAGMAS), from sqlite-sql.ts like every other statement.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const { statSync } = require("node:fs");
const P = workerData.pragmas;
const db = new Database(workerData.filename);
db.pragma(P.busyTimeout);
let stopped = false;
let lastLog = -1;
let idle = 0;
const walBytes = () => {
  try {
    return statSync(workerData.filename + "-wal").size;
  } catch (e) {
    return 0;
  }
};
const trim = () => {
  db.pragma(P.noBusyTimeout);
  try {
    db.pragma(P.checkpointTruncate);
  } finally {
    db.pragma(P.busyTimeout);
  }
};
const tick = () => {
  if (stopped) return;
  try {
    const r = db.pragma(P.checkpointPassive)[0];
    // log: frames in the WAL; checkpointed: those now in the database file. Unchanged and all copied: idle.
    idle = r.log === lastLog && r.checkpointed === r.log ? idle + 1 : 0;
    lastLog = r.log;
    if (idle >= workerData.idleTicks && walBytes() > workerData.trimBytes) {
      idle = 0;
      trim();
      parentPort.postMessage("trimmed");
    }
  } catch (e) {
    // SQLITE_BUSY and friends: try again at the next tick.
  }
  setTimeout(tick, workerData.intervalMs);
};
parentPort.on("message", (m) => {
  if (m !== "stop") return;
  stopped = true;
  try {
    db.pragma(P.checkpointPassive);
  } catch (e) {}
  db.close();
  parentPort.postMessage("stopped");
});
setTimeout(tick, workerData.intervalMs);
`;

/** The pragmas the worker runs, passed in workerData (the worker's source cannot import). */
const WORKER_PRAGMAS = {
  busyTimeout: PRAGMAS.busyTimeout,
  noBusyTimeout: PRAGMAS.noBusyTimeout,
  checkpointPassive: PRAGMAS.checkpointPassive,
  checkpointTruncate: PRAGMAS.checkpointTruncate,
};

export interface Checkpointer {
  /** Final passive checkpoint and worker exit; the server's connection gets automatic checkpoints back. */
  stop(): Promise<void>;
}

export function startCheckpointer(
  db: BetterSqlite3.Database,
  filename: string,
  onFallback: (reason: string) => void,
  opts: { trimBytes?: number; onTrim?: () => void } = {},
): Checkpointer | null {
  if (filename === ":memory:") return null;
  let worker: Worker;
  try {
    worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        filename,
        driver: createRequire(import.meta.url).resolve("better-sqlite3"),
        intervalMs: INTERVAL_MS,
        trimBytes: opts.trimBytes ?? TRIM_BYTES,
        idleTicks: IDLE_TICKS,
        pragmas: WORKER_PRAGMAS,
      },
    });
  } catch {
    onFallback("the checkpoint worker could not start");
    return null;
  }
  db.pragma(PRAGMAS.noAutocheckpoint);
  db.pragma(PRAGMAS.noJournalSizeLimit);
  worker.on("message", (m) => {
    if (m === "trimmed") opts.onTrim?.();
  });
  let stopping = false;
  const fallback = (reason: string) => {
    if (db.open) selfCheckpointing(db);
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
        // Referenced while stopping: a worker busy in a long checkpoint answers late, and with only the unref'd
        // worker to wait for, node would end the process under a caller awaiting close() (exit code 13).
        worker.ref();
        worker.postMessage("stop");
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([stopped, new Promise<void>((resolve) => (timer = setTimeout(resolve, 5_000)))]);
        clearTimeout(timer);
        await worker.terminate();
      }
      if (db.open) selfCheckpointing(db);
    },
  };
}

/** Without the worker the connection checkpoints in its own commits and trims the WAL there (SQLite's limit). */
function selfCheckpointing(db: BetterSqlite3.Database): void {
  db.pragma(autocheckpointPragma(AUTOCHECKPOINT_PAGES));
  db.pragma(journalSizeLimitPragma(TRIM_BYTES));
}
