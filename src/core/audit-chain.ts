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

/** Canonical JSON texts of an event's JSON-valued fields, as hashed and as stored ("null" for null). */
export interface JsonTexts {
  actor: string;
  scopes: string;
  request: string;
  data: string;
}

/**
 * The canonical text of one JSON-valued field. Undefined members are left out (as JSON.stringify does); anything
 * JSON cannot represent (NaN, a function, a bigint, a cycle) throws rather than being written some other way.
 */
function jsonText(v: unknown): string {
  if (v === null || v === undefined) return "null";
  const text = canonicalJson(v);
  if (text === undefined) throw new Error("audit event is not serialisable");
  return text;
}

export function jsonTexts(d: Pick<AuditDraft, "actor" | "scopes" | "request" | "data">): JsonTexts {
  return { actor: jsonText(d.actor), scopes: jsonText(d.scopes), request: jsonText(d.request), data: jsonText(d.data) };
}

/** A string member's canonical text: RFC 8785 strings are ECMAScript JSON.stringify strings. */
const str = (v: string | null | undefined): string => (v === null || v === undefined ? "null" : JSON.stringify(v));

// Two events per gateway request share a millisecond: one Date per distinct time.
let isoMs = Number.NaN;
let isoText = "";
function isoTime(ms: number): string {
  if (ms !== isoMs) {
    isoText = new Date(ms).toISOString();
    isoMs = ms;
  }
  return isoText;
}

/**
 * SHA-256 of the canonical JSON of `hashedFields(d, seq, prevHash)`, written out member by member: RFC 8785 is
 * compositional, so the fixed members in UTF-16 order around each field's own canonical text are the canonical
 * text of the whole (checked against the canonicalize reference implementation in audit-chain.test.ts). Costs
 * about a quarter of serialising the whole object again, twice per gateway request.
 */
export function hashEvent(d: AuditDraft, seq: number, prevHash: string, t: JsonTexts): string {
  if (!Number.isSafeInteger(seq)) throw new Error("audit event is not serialisable");
  const text = `{"actor":${t.actor},"agent":${str(d.agent)},"data":${t.data},"id":${str(d.id)},"nonce_id":${str(d.nonceId)},"prev_hash":${str(prevHash)},"reason":${str(d.reason)},"request":${t.request},"scopes":${t.scopes},"seq":${seq},"service":${str(d.service)},"source_ip":${str(d.sourceIp)},"task":${str(d.task)},"time":${str(isoTime(d.time))},"type":${str(d.type)}}`;
  // One-shot digest (no Hash object): measurably cheaper at two events per gateway request.
  return digest("sha256", text, "hex");
}

export function eventHash(d: AuditDraft, seq: number, prevHash: string): string {
  return hashEvent(d, seq, prevHash, jsonTexts(d));
}

const isJsonScalar = (x: unknown): boolean =>
  x === null ||
  typeof x === "string" ||
  typeof x === "boolean" ||
  (typeof x === "number" && Number.isFinite(x) && !Object.is(x, -0));

/** A plain object or array of JSON scalars: reading its canonical text back gives an equal value. */
function isFlatJson(v: object): boolean {
  if (Array.isArray(v)) {
    for (const x of v) if (!isJsonScalar(x)) return false;
    return true;
  }
  if (Object.getPrototypeOf(v) !== Object.prototype) return false;
  for (const x of Object.values(v)) if (!isJsonScalar(x)) return false;
  return true;
}

/**
 * The value a read of the row gives back. The gateway's fields (actor, scopes, request, data) are flat plain
 * values already equal to that, and are used as they are: parsing them again was a quarter of the cost of linking.
 * Anything else (nesting, undefined members, -0, a Date) is parsed from its canonical text. Drafts are built for
 * one append and not changed after it, so an event sharing a draft's value is safe.
 */
function readBack<T>(v: T | null, text: string): T | null {
  if (v === null || v === undefined) return null;
  return typeof v === "object" && isFlatJson(v) ? v : (JSON.parse(text) as T);
}

/**
 * Links drafts onto a chain head. Pure: the store calls it inside its append transaction. Each event holds what
 * a read of its row gives back (JSON-valued fields parsed from their canonical text, so undefined members and the
 * like are gone) and `texts[i]` is exactly what the row stores.
 */
export function linkWithTexts(
  drafts: readonly AuditDraft[],
  head: { seq: number; hash: string },
): { events: AuditEvent[]; texts: JsonTexts[] } {
  let seq = head.seq;
  let prev = head.hash;
  const events: AuditEvent[] = [];
  const texts: JsonTexts[] = [];
  for (const d of drafts) {
    seq += 1;
    const t = jsonTexts(d);
    const e: AuditEvent = {
      id: d.id,
      time: d.time,
      type: d.type,
      actor: readBack(d.actor, t.actor),
      agent: d.agent ?? null,
      task: d.task ?? null,
      nonceId: d.nonceId ?? null,
      service: d.service ?? null,
      scopes: readBack(d.scopes, t.scopes),
      reason: d.reason ?? null,
      request: readBack(d.request, t.request),
      sourceIp: d.sourceIp ?? null,
      data: readBack(d.data, t.data),
      seq,
      prevHash: prev,
      hash: "",
    };
    e.hash = hashEvent(e, seq, prev, t);
    prev = e.hash;
    events.push(e);
    texts.push(t);
  }
  return { events, texts };
}

export function link(drafts: readonly AuditDraft[], head: { seq: number; hash: string }): AuditEvent[] {
  return linkWithTexts(drafts, head).events;
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
