import { hash as digest } from "node:crypto";
import { configure } from "safe-stable-stringify";
import type { AuditDraft, AuditEvent } from "./types.js";

/**
 * The audit hash chain. Each event's hash is SHA-256 over the RFC 8785 canonical JSON of its public form,
 * which includes `seq` and `prev_hash`; so editing, deleting or reordering any event breaks every later link.
 */
/**
 * RFC 8785 canonical JSON of the values an event holds (what a JSON round trip leaves: objects, arrays, strings,
 * finite numbers, booleans, null): members sorted by UTF-16 code units, ECMAScript number and string
 * serialisation, no whitespace. safe-stable-stringify in deterministic mode produces exactly that at about half
 * the cost of the canonicalize reference implementation, on the gateway's hot path twice per request; the
 * equivalence is a test (audit-chain.test.ts, against canonicalize). `strict` makes anything that is not JSON
 * (NaN, a function, a bigint, a cycle) throw instead of being written some other way.
 */
const canonicalJson = configure({ deterministic: true, strict: true, circularValue: Error, bigint: false });

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

/** The inverse of `publicEvent`, for re-verifying an export or a sink's output (`verifyChain`). */
export function eventFromPublic(p: Record<string, unknown>): AuditEvent {
  return {
    id: p.id as string,
    seq: p.seq as number,
    time: Date.parse(p.time as string),
    type: p.type as AuditEvent["type"],
    actor: (p.actor ?? null) as AuditEvent["actor"],
    agent: (p.agent ?? null) as string | null,
    task: (p.task ?? null) as string | null,
    nonceId: (p.nonce_id ?? null) as string | null,
    service: (p.service ?? null) as string | null,
    scopes: (p.scopes ?? null) as string[] | null,
    reason: (p.reason ?? null) as string | null,
    request: (p.request ?? null) as AuditEvent["request"],
    sourceIp: (p.source_ip ?? null) as string | null,
    data: (p.data ?? null) as Record<string, unknown> | null,
    prevHash: p.prev_hash as string,
    hash: p.hash as string,
  };
}

export function eventHash(d: AuditDraft, seq: number, prevHash: string): string {
  const json = canonicalJson(hashedFields(d, seq, prevHash));
  if (json === undefined) throw new Error("audit event is not serialisable");
  // One-shot digest (no Hash object): measurably cheaper at two events per gateway request.
  return digest("sha256", json, "hex");
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

/**
 * Incremental verification, for streaming a chain of any length in pages with constant memory: push events
 * in seq order; the first broken link (wrong seq, wrong prev_hash, or a hash that does not match the content)
 * stops it and records the seq where the chain stopped being what it claims.
 */
export class ChainVerifier {
  private prev: string;
  private expectSeq: number;
  events = 0;
  firstBadSeq: number | null = null;

  constructor(head: { seq: number; hash: string } = { seq: 0, hash: GENESIS_HASH }) {
    this.prev = head.hash;
    this.expectSeq = head.seq + 1;
  }

  /** The last verified (seq, hash). */
  get head(): { seq: number; hash: string } {
    return { seq: this.expectSeq - 1, hash: this.prev };
  }

  push(e: AuditEvent): boolean {
    if (this.firstBadSeq !== null) return false;
    if (e.seq !== this.expectSeq || e.prevHash !== this.prev || eventHash(e, e.seq, e.prevHash) !== e.hash) {
      this.firstBadSeq = this.expectSeq;
      return false;
    }
    this.events += 1;
    this.prev = e.hash;
    this.expectSeq += 1;
    return true;
  }

  result(): VerifyResult {
    return this.firstBadSeq === null
      ? { ok: true, events: this.events }
      : { ok: false, events: this.events, first_bad_seq: this.firstBadSeq };
  }
}

/** Verifies a run of events in seq order, starting from `head` (genesis unless resuming from a checkpoint). */
export function verifyChain(events: Iterable<AuditEvent>, head = { seq: 0, hash: GENESIS_HASH }): VerifyResult {
  const v = new ChainVerifier(head);
  for (const e of events) if (!v.push(e)) break;
  return v.result();
}
