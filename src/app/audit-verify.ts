import { ChainVerifier, GENESIS_HASH } from "../core/audit-chain.js";
import type { AuditCheckpoint } from "../core/types.js";
import type { AuditCheckpointStore, AuditStore } from "../store/store.js";
import { checkpointSignatureValid } from "./audit-signing.js";

/**
 * Full verification of the stored audit trail, streamed in pages (memory does not grow with the chain):
 *  1. the chain starts at genesis, or (after retention) right after a trusted, validly signed checkpoint;
 *  2. every event links to the previous one and hashes to its stored hash (ChainVerifier);
 *  3. every checkpoint row is validly signed, and the chain still contains its (seq, hash) — so a tail cut
 *     below a checkpoint is found;
 *  4. the latest checkpoint kept OUTSIDE the database (a file in the data dir) is signed by this replica's key
 *     and contained in the chain — so restoring an older copy of the database is found;
 *  5. the chain reaches the stored head.
 * `first_bad_seq` is the first seq at which the stored chain stops matching what was committed and signed.
 */

export type VerifyFailure =
  | "chain_broken"
  | "anchor_missing"
  | "checkpoint_invalid"
  | "checkpoint_mismatch"
  | "chain_truncated";

export interface AuditVerifyResult {
  ok: boolean;
  events: number;
  first_bad_seq?: number;
  reason?: VerifyFailure;
  /** Checkpoints checked (database rows plus the latest-checkpoint file). */
  checkpoints: number;
  /** Checkpoints signed by a key that is neither this replica's nor in `audit.trustedKeys`. */
  untrusted_checkpoints: number;
  /** Where the verified chain starts (0 = genesis; otherwise the retention checkpoint). */
  from_seq: number;
}

export interface VerifyOptions {
  /** Key ids whose checkpoints may anchor a pruned chain (this replica's and configured ones). */
  trustedKids: ReadonlySet<string>;
  /** The latest checkpoint from the data dir, if any (must be signed by a trusted key). */
  latest: AuditCheckpoint | null;
  pageSize?: number;
}

export async function verifyAudit(
  store: AuditStore & AuditCheckpointStore,
  o: VerifyOptions,
): Promise<AuditVerifyResult> {
  const pageSize = o.pageSize ?? 1000;
  const head = await store.auditHead();
  let checkpoints = 0;
  let untrusted = 0;
  const out = (r: Partial<AuditVerifyResult> & { ok: boolean; events: number }, from: number): AuditVerifyResult => ({
    ...r,
    checkpoints,
    untrusted_checkpoints: untrusted,
    from_seq: from,
  });

  // 1. Where the retained chain starts.
  const [first] = await store.scanAudit(0, 1);
  let start = { seq: 0, hash: GENESIS_HASH };
  if (first && first.seq > 1) {
    const anchor = await store.latestCheckpoint({ maxSeq: first.seq - 1, kids: [...o.trustedKids] });
    if (
      !anchor ||
      anchor.seq !== first.seq - 1 ||
      anchor.hash !== first.prevHash ||
      !(await checkpointSignatureValid(anchor))
    ) {
      return out({ ok: false, events: 0, first_bad_seq: (anchor?.seq ?? 0) + 1, reason: "anchor_missing" }, 0);
    }
    start = { seq: anchor.seq, hash: anchor.hash };
  }

  // Checkpoints in seq order, database pages merged with the file's checkpoint.
  const extra = o.latest ? [o.latest] : [];
  let cpBuf: AuditCheckpoint[] = [];
  let cpAfter = -1;
  let cpDone = false;
  const nextCheckpoint = async (): Promise<AuditCheckpoint | undefined> => {
    if (cpBuf.length === 0 && !cpDone) {
      cpBuf = await store.listCheckpoints(cpAfter, pageSize);
      // Rows of one seq may straddle a page; re-reading from the last full seq keeps it simple and exact.
      if (cpBuf.length < pageSize) cpDone = true;
      else {
        const lastSeq = (cpBuf[cpBuf.length - 1] as AuditCheckpoint).seq;
        const whole = cpBuf.filter((c) => c.seq < lastSeq);
        cpBuf = whole.length > 0 ? whole : cpBuf;
        cpAfter = (cpBuf[cpBuf.length - 1] as AuditCheckpoint).seq;
      }
    }
    const db = cpBuf[0];
    const file = extra[0];
    if (file && (!db || file.seq <= db.seq)) return extra.shift();
    return cpBuf.shift();
  };

  let pendingCp = await nextCheckpoint();
  const v = new ChainVerifier(start);
  // Checks a checkpoint against the hash the chain has at its seq (undefined: before the retained chain).
  const checkCp = async (c: AuditCheckpoint, chainHash: string | undefined): Promise<VerifyFailure | null> => {
    checkpoints += 1;
    const trusted = o.trustedKids.has(c.kid);
    if (!trusted) untrusted += 1;
    const isFile = c === o.latest;
    if ((isFile && !trusted) || !(await checkpointSignatureValid(c))) return "checkpoint_invalid";
    if (chainHash !== undefined && chainHash !== c.hash) return "checkpoint_mismatch";
    return null;
  };

  // Checkpoints below the retained chain: signature only.
  while (pendingCp && pendingCp.seq <= start.seq) {
    const bad = await checkCp(pendingCp, pendingCp.seq === start.seq ? start.hash : undefined);
    if (bad) return out({ ok: false, events: 0, first_bad_seq: pendingCp.seq, reason: bad }, start.seq);
    pendingCp = await nextCheckpoint();
  }

  // 2 + 3 + 5. Stream the events.
  let after = start.seq;
  let headSeen = head.seq <= start.seq;
  for (;;) {
    const page = await store.scanAudit(after, pageSize);
    for (const e of page) {
      if (!v.push(e)) return out({ ...v.result(), reason: "chain_broken" }, start.seq);
      while (pendingCp && pendingCp.seq <= e.seq) {
        // A checkpoint whose seq is missing from the chain was caught by the seq check above.
        const bad = await checkCp(pendingCp, e.hash);
        if (bad) return out({ ok: false, events: v.events, first_bad_seq: pendingCp.seq, reason: bad }, start.seq);
        pendingCp = await nextCheckpoint();
      }
      if (e.seq === head.seq) {
        headSeen = true;
        if (e.hash !== head.hash) {
          return out({ ok: false, events: v.events, first_bad_seq: e.seq, reason: "chain_broken" }, start.seq);
        }
      }
    }
    if (page.length > 0) after = (page[page.length - 1] as { seq: number }).seq;
    if (page.length < pageSize) {
      // Checkpoints still ahead of the chain's end: events a checkpoint covers were committed before it was
      // written, so one more scan tells a concurrent append from a cut tail.
      if (pendingCp && (await store.scanAudit(after, 1)).length > 0) continue;
      break;
    }
  }
  const end = v.head.seq;
  if (pendingCp) {
    if (await checkCp(pendingCp, undefined)) {
      return out(
        { ok: false, events: v.events, first_bad_seq: pendingCp.seq, reason: "checkpoint_invalid" },
        start.seq,
      );
    }
    return out({ ok: false, events: v.events, first_bad_seq: end + 1, reason: "chain_truncated" }, start.seq);
  }
  if (!headSeen)
    return out({ ok: false, events: v.events, first_bad_seq: end + 1, reason: "chain_truncated" }, start.seq);
  return out({ ok: true, events: v.events }, start.seq);
}
