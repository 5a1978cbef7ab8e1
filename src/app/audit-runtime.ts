import type { AuditCheckpoint } from "../core/types.js";
import type { AuditCheckpointStore, AuditStore } from "../store/store.js";
import { Checkpointer, readLatestCheckpoint } from "./audit-checkpoints.js";
import { AuditFeed } from "./audit-feed.js";
import { type PruneResult, pruneAuditTrail } from "./audit-retention.js";
import { type AuditSigner, loadAuditSigner } from "./audit-signing.js";
import { AuditSink } from "./audit-sinks.js";
import { type AuditVerifyResult, verifyAudit } from "./audit-verify.js";
import type { AppContext } from "./context.js";

/**
 * Everything the audit trail runs beside the store, built once by the composition root: this replica's signing
 * key, the checkpointer, and verification. `close()` writes the final checkpoint.
 */
export interface AuditRuntime {
  readonly signer: AuditSigner;
  readonly checkpointer: Checkpointer;
  /** Committed events in seq order, for live readers. */
  readonly feed: AuditFeed;
  readonly sinks: readonly AuditSink[];
  /** Live streams register here so shutdown can end them (an open stream would keep the listener open). */
  readonly streams: Set<() => void>;
  /** This replica's key id and `audit.trustedKeys`. */
  readonly trustedKids: ReadonlySet<string>;
  verify(): Promise<AuditVerifyResult>;
  /** Applies `audit.retention` now (also run hourly when configured). Null when retention is off. */
  prune(): Promise<PruneResult | null>;
  /** Ends every live stream (before the API listener closes: it waits for open responses). */
  endStreams(): void;
  latestFileCheckpoint(): AuditCheckpoint | null;
  close(): Promise<void>;
}

const RETENTION_EVERY_MS = 3_600_000;

export async function startAuditRuntime(ctx: AppContext<AuditStore & AuditCheckpointStore>): Promise<AuditRuntime> {
  const cfg = ctx.config.audit;
  const dataDir = ctx.config.dataDir;
  const signer = await loadAuditSigner(dataDir);
  const trustedKids = new Set([signer.kid, ...cfg.trustedKeys]);
  const checkpointer = new Checkpointer({
    store: ctx.store,
    signer,
    clock: ctx.clock,
    log: ctx.log,
    dataDir,
    every: cfg.checkpointEvery,
    intervalMs: cfg.checkpointInterval,
  });
  await checkpointer.start();
  const feed = new AuditFeed(ctx.store, ctx.log, cfg.pollMs);
  await feed.start();
  const sinks = cfg.sinks.map((c, i) => new AuditSink(c, i, ctx.log, ctx.metrics, Math.random, () => ctx.clock.now()));
  for (const sink of sinks) feed.subscribe((events) => sink.offer(events));
  const streams = new Set<() => void>();
  const retentionMs = cfg.retention;
  const prune = async (): Promise<PruneResult | null> => {
    if (retentionMs === undefined) return null;
    const r = await pruneAuditTrail(ctx.store, { now: ctx.clock.now(), retentionMs, trustedKids });
    if (r.pruned > 0) ctx.log.info({ through_seq: r.throughSeq, events: r.pruned }, "audit retention pruned events");
    return r;
  };
  const retention =
    retentionMs === undefined
      ? null
      : setInterval(() => {
          prune().catch((e: unknown) => {
            ctx.log.warn({ err: e instanceof Error ? e.name : typeof e }, "audit retention failed");
          });
        }, RETENTION_EVERY_MS);
  retention?.unref();
  let closed: Promise<void> | null = null;
  return {
    signer,
    checkpointer,
    feed,
    sinks,
    streams,
    trustedKids,
    latestFileCheckpoint: () => readLatestCheckpoint(dataDir),
    verify: () => verifyAudit(ctx.store, { trustedKids, latest: readLatestCheckpoint(dataDir) }),
    prune,
    endStreams() {
      for (const end of [...streams]) end();
    },
    close() {
      closed ??= (async () => {
        if (retention) clearInterval(retention);
        for (const end of [...streams]) end();
        await checkpointer.close();
        // The feed has handed every committed event to the sinks synchronously; now deliver what is queued.
        await Promise.allSettled(sinks.map((s) => s.close()));
        feed.close();
      })();
      return closed;
    },
  };
}
