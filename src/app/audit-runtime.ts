import type { AuditCheckpoint } from "../core/types.js";
import { Checkpointer, readLatestCheckpoint } from "./audit-checkpoints.js";
import { type AuditSigner, loadAuditSigner } from "./audit-signing.js";
import { type AuditVerifyResult, verifyAudit } from "./audit-verify.js";
import type { AppContext } from "./context.js";

/**
 * Everything the audit trail runs beside the store, built once by the composition root: this replica's signing
 * key, the checkpointer, and verification. `close()` writes the final checkpoint.
 */
export interface AuditRuntime {
  readonly signer: AuditSigner;
  readonly checkpointer: Checkpointer;
  /** This replica's key id and `audit.trustedKeys`. */
  readonly trustedKids: ReadonlySet<string>;
  verify(): Promise<AuditVerifyResult>;
  latestFileCheckpoint(): AuditCheckpoint | null;
  close(): Promise<void>;
}

export async function startAuditRuntime(ctx: AppContext): Promise<AuditRuntime> {
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
  let closed: Promise<void> | null = null;
  return {
    signer,
    checkpointer,
    trustedKids,
    latestFileCheckpoint: () => readLatestCheckpoint(dataDir),
    verify: () => verifyAudit(ctx.store, { trustedKids, latest: readLatestCheckpoint(dataDir) }),
    close() {
      closed ??= checkpointer.close();
      return closed;
    },
  };
}
