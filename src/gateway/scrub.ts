import { ALTERNATIVES, BY_FIRST_BYTE, MAX_SPELLING, PLAIN, STARTS } from "./scrub-forms.js";

export { buildNeedles, wipeNeedles } from "./scrub-forms.js";

/**
 * SECURITY.md rules 7 and 13: the injected secret never reaches the agent, even when an upstream echoes the
 * request (a debug endpoint, an error message quoting the header, a redirect URL carrying a query key).
 *
 * Decision: REDACT, not block. In a body every occurrence is replaced by the fixed marker `REDACTION_MARKER`
 * (the response keeps flowing, so a long SSE stream is not torn down by one echo, and the agent sees that
 * something was removed); a response header whose value contains the secret is dropped entirely. Both count in
 * `agent_nonce_gateway_secret_scrubbed_total{action="redacted"}`. A response the gateway cannot scrub safely (an
 * encoding it cannot decode, a partial body) is blocked instead (respond.ts, 502 `response_blocked`).
 *
 * What is searched: the needles of scrub-forms.ts, each byte in any of its usual spellings (percent, JSON, HTML
 * escapes). Matching works on bytes across chunk boundaries: only a tail that could still become a match is held
 * back, so a streamed response (SSE) is not delayed when its chunks end in ordinary text.
 *
 * The end of a body: a held-back tail that is a prefix of a needle of at least `TAIL_REDACT_BYTES` bytes is
 * redacted, not released. A body (or header value) cut inside an echo of the secret (an upstream that truncates
 * a quoted header, a preview field) would otherwise hand back its start. A cut can only show the secret's
 * *leading* bytes (every needle form starts with them), so whatever the cut position, at most the first three
 * bytes go out: for real API keys that is their public type prefix (`sk_`, `ghp`, `xox`, `AKI`). A shorter
 * threshold would redact ordinary bodies whose last byte or two happen to equal the secret's first ones. A body
 * that *starts* inside the secret cannot be recognised at all, which is why partial responses are refused
 * (headers.ts strips `Range`, respond.ts blocks 206 and `Content-Range`).
 *
 * Search: native `indexOf` of each needle's leading run of single-spelling bytes, then a match attempt
 * in any spelling at each hit. A needle whose first two bytes both have several spellings (rare) is scanned with a
 * first-byte table instead. scripts/bench/scrub.mjs measures this against a one-pass first-byte scan for all
 * needles (4-5x slower at 16-256 KiB: a JS loop over every byte) and against one `indexOf` per needle spelled
 * out in each encoder's style (3x slower); its header has the figures. scripts/bench/scrub-aho.mjs measures one
 * Aho–Corasick pass over all the anchors instead (issue 17): slower up to ~6 secrets (24 needles) a request, 2.5-16x
 * at 4-8 needles (one credential), because its JS loop touches every byte; it wins only from ~12 secrets.
 */

export const REDACTION_MARKER = "[REDACTED by agent-nonce]";
const MARKER = Buffer.from(REDACTION_MARKER, "utf8");
const EMPTY = Buffer.alloc(0);

/** A tail (or header value end) this long that could be the start of a needle is redacted, not released. */
export const TAIL_REDACT_BYTES = 4;

/**
 * Up to this many bytes (header values, tiny bodies) a search walks the bytes once with a first-byte table: one
 * native `indexOf` call per anchor costs more than the walk there. Measured on JSON with one secret's needles
 * (CPU ns per push): 48 bytes 365 → 245, 96 bytes 392 → 358, 128 bytes 390 → 410 (the walk loses from ~110).
 */
const SHORT_INPUT = 96;

const NONE = -1;
const PARTIAL = -2;

/** 1: `alt` is at buf[s..]; 0: buf ends while it still matches; -1: mismatch. */
function cmpAlt(buf: Uint8Array, s: number, alt: Uint8Array): number {
  const n = buf.length;
  for (let j = 0; j < alt.length; j++) {
    if (s + j >= n) return 0;
    if (buf[s + j] !== alt[j]) return -1;
  }
  return 1;
}

/**
 * Matches `needle` (each byte in any of its spellings) at buf[at..]: the end offset of the longest full match,
 * NONE, or PARTIAL when buf ends while the match could still complete. Spellings of one byte are not prefix-free
 * (`&` and `&amp;`), so the match tracks the set of offsets reachable so far: linear in the needle's length.
 */
export function matchAt(needle: Uint8Array, buf: Uint8Array, at: number): number {
  const len = needle.length;
  const n = buf.length;
  // Fast path (most candidates fail here, without allocating): the leading bytes that have one spelling.
  let s = at;
  let k = 0;
  for (; k < len; k++) {
    const b = needle[k] as number;
    if (PLAIN[b] === 0) break;
    if (s >= n) return PARTIAL;
    if (buf[s] !== b) return NONE;
    s++;
  }
  return k === len ? s : matchFrom(needle, k, buf, s);
}

/** From needle[k] on: one text offset while only one spelling matches (the usual case), else matchSet. */
function matchFrom(needle: Uint8Array, from: number, buf: Uint8Array, at: number): number {
  const len = needle.length;
  const n = buf.length;
  let s = at;
  let partial = false;
  for (let k = from; k < len; k++) {
    const b = needle[k] as number;
    if (s >= n) return PARTIAL;
    if (PLAIN[b] === 1) {
      if (buf[s] !== b) return partial ? PARTIAL : NONE;
      s++;
      continue;
    }
    const alts = BY_FIRST_BYTE[b]?.[buf[s] as number];
    if (alts === undefined) return partial ? PARTIAL : NONE;
    let next = -1;
    for (const alt of alts) {
      const r = cmpAlt(buf, s, alt);
      if (r === 0) partial = true;
      else if (r === 1) {
        // Two spellings both match here (`&` and `&amp;` when the text has `&amp;`): follow every path.
        if (next !== -1 && next !== s + alt.length) return matchSet(needle, k, buf, s, partial);
        next = s + alt.length;
      }
    }
    if (next === -1) return partial ? PARTIAL : NONE;
    s = next;
  }
  return s;
}

/** The general case: the set of text offsets reachable so far, from needle[from] at offset `at`. */
function matchSet(needle: Uint8Array, from: number, buf: Uint8Array, at: number, partialSoFar: boolean): number {
  const len = needle.length;
  let states: number[] = [at];
  let partial = partialSoFar;
  for (let k = from; k < len; k++) {
    const b = needle[k] as number;
    const next: number[] = [];
    for (const s of states) {
      for (const alt of ALTERNATIVES[b] as readonly Uint8Array[]) {
        const r = cmpAlt(buf, s, alt);
        if (r === 1) {
          if (!next.includes(s + alt.length)) next.push(s + alt.length);
        } else if (r === 0) {
          partial = true;
        }
      }
    }
    if (next.length === 0) return partial ? PARTIAL : NONE;
    states = next;
  }
  return Math.max(...states);
}

/**
 * Streaming multi-needle redactor. `push` returns the bytes that are safe to send now; `end` returns the rest.
 * Not a Transform stream on purpose: the gateway drives it from its own data loop (less per-request churn).
 */
export class Scrubber {
  /** Occurrences redacted so far. */
  found = 0;
  private carry: Buffer | null = null;
  /**
   * Found by `indexOf` of a run of single-spelling bytes (a view of the needle, not a copy): the leading run, or
   * when the first byte has several spellings (`lead`), the run after it, each spelling then tried before it.
   * Built with `window` on the first input longer than SHORT_INPUT (`prepare`): a small response never needs them.
   */
  private anchors: { idx: number; run: Uint8Array; lead: boolean }[] | null = null;
  /** byFirst[c] lists the needles that, in some spelling, can start with byte c (undefined: none can). */
  private readonly byFirst: number[][] = [];
  /** The same for the needles without an anchor (first byte has several spellings): scanned byte by byte. */
  private scanBy: number[][] | null = null;
  /** The longest span a match can cover (set by `prepare`). */
  private window = 0;
  private matchStart = 0;
  private matchEnd = 0;
  /**
   * After a `find` that walked a short input to its end and found nothing: where the longest tail that could still
   * become a match starts (the input's length when none), noted on the way; -1 otherwise (`partialTail` decides).
   */
  private tailAt = -1;

  // Built once per response: the first-byte lists only (no typed array, no views), one short loop per needle; what
  // long inputs need is built by `prepare` (CPU per construction, one secret's four needles, same run: 1384 ns with
  // both typed arrays and the anchors built here, 391 ns now).
  constructor(private readonly needles: readonly Uint8Array[]) {
    for (let idx = 0; idx < needles.length; idx++) {
      const needle = needles[idx] as Uint8Array;
      const first = needle[0] as number;
      const from = PLAIN[first] === 0 ? 1 : 0;
      // No anchor when the byte after a several-spelling first byte (or the first byte itself) has several spellings.
      const anchored = from < needle.length && PLAIN[needle[from] as number] === 1;
      const starts = STARTS[first] as Uint8Array;
      for (let i = 0; i < starts.length; i++) {
        const c = starts[i] as number;
        index(this.byFirst, c, idx);
        if (!anchored) {
          this.scanBy ??= [];
          index(this.scanBy, c, idx);
        }
      }
    }
  }

  /** The anchors and the window: one loop over each needle's bytes, no closures, sets or iterators. */
  private prepare(): { idx: number; run: Uint8Array; lead: boolean }[] {
    const anchors: { idx: number; run: Uint8Array; lead: boolean }[] = [];
    const needles = this.needles;
    let window = 0;
    for (let idx = 0; idx < needles.length; idx++) {
      const needle = needles[idx] as Uint8Array;
      const len = needle.length;
      const lead = PLAIN[needle[0] as number] === 0;
      const from = lead ? 1 : 0;
      // The span a match can cover, and where the anchor (the run of single-spelling bytes from `from`) ends.
      let span = 0;
      let end = -1;
      for (let i = 0; i < len; i++) {
        const b = needle[i] as number;
        span += MAX_SPELLING[b] as number;
        if (end === -1 && i >= from && PLAIN[b] === 0) end = i;
      }
      if (end === -1) end = len;
      if (span > window) window = span;
      if (end - from > 0) anchors.push({ idx, run: needle.subarray(from, end), lead });
    }
    this.window = window;
    this.anchors = anchors;
    return anchors;
  }

  push(chunk: Buffer): Buffer {
    const buf = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = null;
    let pos = 0;
    let out: Buffer[] | null = null;
    while (this.find(buf, pos)) {
      out ??= [];
      if (this.matchStart > pos) out.push(buf.subarray(pos, this.matchStart));
      out.push(MARKER);
      this.found++;
      pos = this.matchEnd;
    }
    const hold = this.tailAfterMiss(buf, pos);
    const emitEnd = buf.length - hold;
    if (hold > 0) this.carry = Buffer.from(buf.subarray(emitEnd));
    if (out === null) return pos === 0 && emitEnd === buf.length ? buf : buf.subarray(pos, emitEnd);
    if (emitEnd > pos) out.push(buf.subarray(pos, emitEnd));
    return Buffer.concat(out);
  }

  /** The held-back tail: released unless it is long enough to carry part of the secret (see above). */
  end(): Buffer {
    const rest = this.carry;
    this.carry = null;
    if (rest === null) return EMPTY;
    if (rest.length >= TAIL_REDACT_BYTES) {
      rest.fill(0);
      this.found++;
      return MARKER;
    }
    return rest;
  }

  /** True when a header value contains a needle, or ends in the start of one (the same rule as a body's end). */
  leaks(value: string): boolean {
    // Header values may have been decoded as latin1 or utf8 by the HTTP client: check both byte forms (one when
    // the value is ASCII, as nearly all are: both forms are then the same bytes).
    if (this.leaksBytes(Buffer.from(value, "latin1"))) return true;
    // utf8 length equals the string's length only when every code unit is ASCII (any other takes ≥ 2 bytes).
    return Buffer.byteLength(value, "utf8") !== value.length && this.leaksBytes(Buffer.from(value, "utf8"));
  }

  private leaksBytes(form: Buffer): boolean {
    return this.find(form, 0) || this.tailAfterMiss(form, 0) >= TAIL_REDACT_BYTES;
  }

  /** Leftmost match at or after `from` (longest at that start) into matchStart/matchEnd. */
  private find(buf: Buffer, from: number): boolean {
    this.tailAt = -1;
    if (buf.length - from <= SHORT_INPUT) return this.scan(buf, from, this.byFirst, buf.length, true);
    let best = -1;
    let bestEnd = -1;
    for (const { idx, run, lead } of this.anchors ?? this.prepare()) {
      const needle = this.needles[idx] as Uint8Array;
      const back = lead ? (MAX_SPELLING[needle[0] as number] as number) : 0;
      for (let q = buf.indexOf(run, from); q !== -1 && (best === -1 || q - back <= best); ) {
        // Where the match would start: at the run, or one spelling of the first byte before it.
        for (const alt of lead ? (ALTERNATIVES[needle[0] as number] as readonly Uint8Array[]) : [EMPTY]) {
          const at = q - alt.length;
          if (at < from || (lead && buf.compare(alt, 0, alt.length, at, q) !== 0)) continue;
          const e = matchAt(needle, buf, at);
          if (e >= 0 && (best === -1 || at < best || (at === best && e > bestEnd))) {
            best = at;
            bestEnd = e;
          }
        }
        q = buf.indexOf(run, q + 1);
      }
    }
    const scanBy = this.scanBy;
    if (scanBy !== null && this.scan(buf, from, scanBy, best === -1 ? buf.length : best + 1, false)) {
      // The scan stops at `best` at the latest: what it found starts there or before, and its end is the longest.
      if (this.matchStart < best || best === -1 || this.matchEnd >= bestEnd) return true;
    }
    if (best === -1) return false;
    this.matchStart = best;
    this.matchEnd = bestEnd;
    return true;
  }

  /**
   * The first offset in [from, limit) where a needle listed in `lists` (by the first byte of its spellings) matches,
   * with its longest end, into matchStart/matchEnd. One JS step per byte: for short inputs, and for needles that
   * have no anchor. With `noteTail` (every needle, up to the end of `buf`), a miss also notes in `tailAt` the first
   * offset where a match was cut short by the end of `buf`: what `partialTail` would find, without a second walk
   * (a match cut short at i has fewer than `window` bytes after i, so i is inside the stretch `partialTail` walks).
   */
  private scan(buf: Buffer, from: number, lists: number[][], limit: number, noteTail: boolean): boolean {
    let tail = -1;
    for (let i = from; i < limit; i++) {
      const list = lists[buf[i] as number];
      if (list === undefined) continue;
      let end = -1;
      for (const idx of list) {
        const e = matchAt(this.needles[idx] as Uint8Array, buf, i);
        if (e > end) end = e;
        else if (e === PARTIAL && tail === -1) tail = i;
      }
      if (end >= 0) {
        this.matchStart = i;
        this.matchEnd = end;
        return true;
      }
    }
    if (noteTail) this.tailAt = tail === -1 ? buf.length : tail;
    return false;
  }

  /** `partialTail` after a `find` of the same `buf` and `from` that found nothing. */
  private tailAfterMiss(buf: Buffer, from: number): number {
    return this.tailAt >= 0 ? buf.length - this.tailAt : this.partialTail(buf, from);
  }

  /** Length of the longest suffix of buf[from..] that could still become a match. */
  private partialTail(buf: Buffer, from: number): number {
    const n = buf.length;
    if (this.anchors === null) this.prepare();
    for (let i = Math.max(from, n - (this.window - 1)); i < n; i++) {
      const list = this.byFirst[buf[i] as number];
      if (list === undefined) continue;
      for (const idx of list) {
        if (matchAt(this.needles[idx] as Uint8Array, buf, i) === PARTIAL) return n - i;
      }
    }
    return 0;
  }
}

function index(lists: number[][], c: number, idx: number): void {
  const list = lists[c] ?? [];
  list.push(idx);
  lists[c] = list;
}

/** True when a header value contains any needle (see Scrubber.leaks). */
export function headerLeaks(value: string, needles: readonly Uint8Array[]): boolean {
  return new Scrubber(needles).leaks(value);
}
