import { createHash } from "node:crypto";
import canonicalizeModule from "canonicalize";
import type { AuditDraft, AuditEvent } from "./types.js";

/**
 * The audit hash chain. Each event's hash is SHA-256 over the RFC 8785 canonical JSON of its public form,
 * which includes `seq` and `prev_hash`; so editing, deleting or reordering any event breaks every later link.
 */
// canonicalize is CommonJS (`module.exports = fn`) while its types declare a default export.
const canonicalize = canonicalizeModule as unknown as (input: unknown) => string | undefined;

export const GENESIS_HASH = "0".repeat(64);

/** The public (API / export) shape of an event, snake_case. This is exactly what is hashed, minus `hash`. */
export function publicEvent(e: AuditEvent): Record<string, unknown> {
  return { ...hashedFields(e, e.seq, e.prevHash), hash: e.hash };
}

function hashedFields(d: AuditDraft, seq: number, prevHash: string): Record<string, unknown> {
  return {
    id: d.id,
    seq,
    time: new Date(d.time).toISOString(),
    type: d.type,
    actor: d.actor,
    agent: d.agent,
    task: d.task,
    nonce_id: d.nonceId,
    service: d.service,
    scopes: d.scopes,
    reason: d.reason,
    request: d.request,
    source_ip: d.sourceIp,
    data: d.data,
    prev_hash: prevHash,
  };
}

export function eventHash(d: AuditDraft, seq: number, prevHash: string): string {
  const json = canonicalize(hashedFields(d, seq, prevHash));
  if (json === undefined) throw new Error("audit event is not serialisable");
  return createHash("sha256").update(json, "utf8").digest("hex");
}

/** Links drafts onto a chain head. Pure: the store calls it inside its append transaction. */
export function link(drafts: readonly AuditDraft[], head: { seq: number; hash: string }): AuditEvent[] {
  let seq = head.seq;
  let prev = head.hash;
  return drafts.map((d) => {
    seq += 1;
    const hash = eventHash(d, seq, prev);
    const e: AuditEvent = { ...d, seq, prevHash: prev, hash };
    prev = hash;
    return e;
  });
}

export interface VerifyResult {
  ok: boolean;
  events: number;
  first_bad_seq?: number;
}

/** Verifies a run of events in seq order, starting from `head` (genesis unless resuming from a checkpoint). */
export function verifyChain(events: Iterable<AuditEvent>, head = { seq: 0, hash: GENESIS_HASH }): VerifyResult {
  let n = 0;
  let prev = head.hash;
  let expectSeq = head.seq + 1;
  for (const e of events) {
    if (e.seq !== expectSeq || e.prevHash !== prev || eventHash(e, e.seq, e.prevHash) !== e.hash) {
      return { ok: false, events: n, first_bad_seq: expectSeq };
    }
    n += 1;
    prev = e.hash;
    expectSeq += 1;
  }
  return { ok: true, events: n };
}
