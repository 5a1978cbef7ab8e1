import type { AuditCheckpointStore, AuditStore } from "../store/store.js";

/**
 * Retention: events older than the configured age are deleted, but only through a checkpoint signed by a
 * trusted key, and that checkpoint row stays: the retained chain then verifies from it (`from_seq` in verify),
 * and deleting anything else from its start is still detected. Runs in batches so a large prune never holds
 * the database for long.
 */

const BATCH = 10_000;

export interface PruneResult {
  /** The checkpoint seq the retained chain now starts after, or null when nothing was eligible. */
  throughSeq: number | null;
  pruned: number;
}

/** The largest seq whose event is older than `cutoff` (event times follow seq order to within milliseconds). */
async function lastSeqBefore(store: AuditStore, cutoff: number): Promise<number | null> {
  const [first] = await store.scanAudit(0, 1);
  if (!first || first.time >= cutoff) return null;
  let lo = first.seq;
  let hi = (await store.auditHead()).seq;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    const [e] = await store.scanAudit(mid - 1, 1);
    // A hole (already tampered with) is treated as "not older": never prune past what cannot be read.
    if (e && e.seq === mid && e.time < cutoff) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

export async function pruneAuditTrail(
  store: AuditStore & AuditCheckpointStore,
  o: { now: number; retentionMs: number; trustedKids: ReadonlySet<string> },
): Promise<PruneResult> {
  const old = await lastSeqBefore(store, o.now - o.retentionMs);
  if (old === null) return { throughSeq: null, pruned: 0 };
  const anchor = await store.latestCheckpoint({ maxSeq: old, kids: [...o.trustedKids] });
  const [first] = await store.scanAudit(0, 1);
  if (!anchor || !first || anchor.seq < first.seq) return { throughSeq: null, pruned: 0 };
  let pruned = 0;
  for (;;) {
    const n = await store.pruneAudit(anchor.seq, BATCH);
    pruned += n;
    if (n < BATCH) break;
  }
  return { throughSeq: anchor.seq, pruned };
}
