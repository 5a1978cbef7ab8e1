import { existsSync, readFileSync } from "node:fs";
import { readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Clock } from "../core/clock.js";
import type { AuditCheckpoint } from "../core/types.js";
import type { AuditCheckpointStore, AuditStore } from "../store/store.js";
import type { AuditSigner } from "./audit-signing.js";
import type { Logger } from "./logger.js";

/**
 * Signed checkpoints of the audit chain head: after `every` events written by this process, every `intervalMs`
 * when the chain moved (other replicas' events included), and on shutdown. Each goes into `audit_checkpoints`
 * and — the part a database rollback cannot undo — into `audit-checkpoint.json` in the data dir, outside the
 * database. The file only moves forward along the same chain: if the database no longer contains the file's
 * checkpoint (restored from an older copy, truncated), the file is left as evidence and verify fails.
 */

export const LATEST_CHECKPOINT_FILE = "audit-checkpoint.json";

export function readLatestCheckpoint(dataDir: string): AuditCheckpoint | null {
  const file = path.join(dataDir, LATEST_CHECKPOINT_FILE);
  if (!existsSync(file)) return null;
  return parseCheckpointFile(() => readFileSync(file, "utf8"));
}

/** The same, without blocking the event loop: the checkpointer runs beside live gateway traffic. */
async function readLatestCheckpointAsync(dataDir: string): Promise<AuditCheckpoint | null> {
  let text: string;
  try {
    text = await readFile(path.join(dataDir, LATEST_CHECKPOINT_FILE), "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    text = "";
  }
  return parseCheckpointFile(() => text);
}

function parseCheckpointFile(read: () => string): AuditCheckpoint {
  try {
    const c = JSON.parse(read()) as AuditCheckpoint;
    if (typeof c.seq !== "number" || typeof c.hash !== "string" || typeof c.jws !== "string") throw new Error();
    return c;
  } catch {
    // An unreadable file is not "no file": verify reports it as a broken checkpoint.
    return { seq: 0, hash: "", time: 0, events: 0, kid: "", publicKey: "", jws: "" };
  }
}

/**
 * Replaces the file atomically (write a temp file, rename over). Asynchronous: on ext4 the rename of a freshly
 * written file waits for its data blocks (auto_da_alloc), 1–2 ms here, which as a sync call stalled every
 * request in flight once per `every` events (several times a second under load).
 */
async function writeLatestCheckpoint(dataDir: string, c: AuditCheckpoint): Promise<void> {
  const file = path.join(dataDir, LATEST_CHECKPOINT_FILE);
  const tmp = `${file}.tmp`;
  await writeFile(tmp, `${JSON.stringify(c)}\n`, { mode: 0o600 });
  await rename(tmp, file);
}

/** True when the chain in the store still contains `c` (as an event, or as the retention anchor row). */
export async function chainContains(store: AuditStore & AuditCheckpointStore, c: AuditCheckpoint): Promise<boolean> {
  const [e] = await store.scanAudit(c.seq - 1, 1);
  if (e && e.seq === c.seq) return e.hash === c.hash;
  const row = await store.latestCheckpoint({ maxSeq: c.seq, kids: [c.kid] });
  return row !== undefined && row.seq === c.seq && row.hash === c.hash;
}

export interface CheckpointerOptions {
  store: AuditStore & AuditCheckpointStore;
  signer: AuditSigner;
  clock: Clock;
  log: Logger;
  dataDir: string;
  every: number;
  intervalMs: number;
}

export class Checkpointer {
  private pending = 0;
  private lastSeq = 0;
  private running: Promise<AuditCheckpoint | null> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private off: (() => void) | null = null;
  private fileConflict = false;

  constructor(private readonly o: CheckpointerOptions) {}

  async start(): Promise<void> {
    const mine = await this.o.store.latestCheckpoint({ kids: [this.o.signer.kid] });
    this.lastSeq = mine?.seq ?? 0;
    const file = readLatestCheckpoint(this.o.dataDir);
    if (file && !(await chainContains(this.o.store, file))) this.conflict(file);
    this.off = this.o.store.onAuditCommitted((events) => {
      this.pending += events.length;
      if (this.pending >= this.o.every && this.running === null) setImmediate(() => void this.checkpoint());
    });
    this.timer = setInterval(() => void this.checkpoint(), this.o.intervalMs);
    this.timer.unref();
  }

  /** Signs the current head if it moved since this key's last checkpoint. Single-flight; never throws. */
  checkpoint(): Promise<AuditCheckpoint | null> {
    this.running ??= this.write().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async write(): Promise<AuditCheckpoint | null> {
    try {
      const head = await this.o.store.auditHead();
      this.pending = 0;
      if (head.seq === 0 || head.seq <= this.lastSeq) return null;
      const c = await this.o.signer.sign({ ...head, time: this.o.clock.now(), events: head.seq });
      await this.o.store.insertCheckpoint(c);
      this.lastSeq = c.seq;
      const file = await readLatestCheckpointAsync(this.o.dataDir);
      if (file === null || (file.seq <= c.seq && (await chainContains(this.o.store, file)))) {
        await writeLatestCheckpoint(this.o.dataDir, c);
      } else {
        this.conflict(file);
      }
      return c;
    } catch (e) {
      this.o.log.error({ err: e instanceof Error ? e.name : typeof e }, "audit checkpoint failed");
      return null;
    }
  }

  private conflict(file: AuditCheckpoint): void {
    if (this.fileConflict) return;
    this.fileConflict = true;
    this.o.log.error(
      { checkpoint_seq: file.seq, file: LATEST_CHECKPOINT_FILE },
      "the audit chain in the database does not contain the latest signed checkpoint (database rolled back or truncated?); keeping the file as evidence",
    );
  }

  /** Stops the triggers and writes a final checkpoint. */
  async close(): Promise<void> {
    this.off?.();
    this.off = null;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
    await this.checkpoint();
  }
}
