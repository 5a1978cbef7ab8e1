/**
 * SECURITY.md rule 7: the injected secret never reaches the agent, even when an upstream echoes the request
 * (a debug endpoint, an error message quoting the header, a redirect URL carrying a query key).
 *
 * Decision: REDACT, not block. In a body every occurrence is replaced by the fixed marker `REDACTION_MARKER`
 * (the response keeps flowing, so a long SSE stream is not torn down by one echo, and the agent sees that
 * something was removed); a response header whose value contains the secret is dropped entirely. Both count in
 * `agent_nonce_gateway_secret_scrubbed_total{action="redacted"}`. A body whose encoding the gateway cannot decode
 * is blocked instead (502), because it could not be scrubbed.
 *
 * What is searched ("needles"): the raw secret; its standard and URL-safe base64 at each of the three byte
 * alignments (so it is found inside a longer base64 string such as an encoded `Authorization` header); its
 * percent-encoded and JSON-escaped forms when they differ; for basic auth the `user:pass` pair, its base64 and the
 * password alone. Matching works on bytes across chunk boundaries: only a tail that could still become a match is
 * held back, so a streamed response (SSE) is not delayed when its chunks end in ordinary text.
 */

export const REDACTION_MARKER = "[REDACTED by agent-nonce]";
const MARKER = Buffer.from(REDACTION_MARKER, "utf8");

function base64Fragments(secret: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let k = 0; k < 3; k++) {
    const padded = k === 0 ? secret : Buffer.concat([Buffer.alloc(k), secret]);
    const b64 = padded.toString("base64").replace(/=+$/, "");
    // Characters that depend only on secret bytes (not on the neighbours in a longer string).
    const start = Math.ceil((8 * k) / 6);
    const end = Math.floor((8 * (k + secret.length)) / 6);
    if (end - start < 4) continue;
    const frag = b64.slice(start, end);
    out.push(Buffer.from(frag, "latin1"));
    const urlSafe = frag.replaceAll("+", "-").replaceAll("/", "_");
    if (urlSafe !== frag) out.push(Buffer.from(urlSafe, "latin1"));
  }
  return out;
}

/** Every byte pattern that would reveal `secret` (and the extra secrets, e.g. a basic-auth password). */
export function buildNeedles(secrets: readonly Buffer[]): Buffer[] {
  const all: Buffer[] = [];
  for (const s of secrets) {
    if (s.length === 0) continue;
    all.push(Buffer.from(s));
    all.push(...base64Fragments(s));
    const text = s.toString("utf8");
    const enc = encodeURIComponent(text);
    if (enc !== text) all.push(Buffer.from(enc, "utf8"));
    const json = JSON.stringify(text).slice(1, -1);
    if (json !== text) all.push(Buffer.from(json, "utf8"));
  }
  // Deduplicate; longest first so that at one position the longest pattern wins.
  const seen = new Set<string>();
  const uniq = all.filter((b) => {
    const k = b.toString("latin1");
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  return uniq.sort((a, b) => b.length - a.length);
}

/** Zeroes needle buffers once a response is done (they are all derived from the secret). */
export function wipeNeedles(needles: readonly Buffer[]): void {
  for (const n of needles) n.fill(0);
}

/**
 * Streaming multi-pattern redactor. `push` returns the bytes that are safe to send now; `end` returns the rest.
 * Not a Transform stream on purpose: the gateway drives it from its own data loop (less per-request churn).
 */
export class Scrubber {
  /** Occurrences redacted so far. */
  found = 0;
  private carry: Buffer | null = null;
  private readonly firstBytes: Uint8Array;

  constructor(private readonly needles: readonly Buffer[]) {
    this.firstBytes = new Uint8Array(256);
    for (const n of needles) this.firstBytes[n[0] as number] = 1;
  }

  push(chunk: Buffer): Buffer {
    const buf = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = null;
    let pos = 0;
    let out: Buffer[] | null = null;
    for (;;) {
      let best = -1;
      let bestLen = 0;
      for (const n of this.needles) {
        const at = buf.indexOf(n, pos);
        if (at !== -1 && (best === -1 || at < best)) {
          best = at;
          bestLen = n.length;
        }
      }
      if (best === -1) break;
      out ??= [];
      if (best > pos) out.push(buf.subarray(pos, best));
      out.push(MARKER);
      this.found++;
      pos = best + bestLen;
    }
    const hold = this.partialTail(buf, pos);
    const emitEnd = buf.length - hold;
    if (hold > 0) this.carry = Buffer.from(buf.subarray(emitEnd));
    if (out === null) return pos === 0 && emitEnd === buf.length ? buf : buf.subarray(pos, emitEnd);
    if (emitEnd > pos) out.push(buf.subarray(pos, emitEnd));
    return Buffer.concat(out);
  }

  end(): Buffer {
    const rest = this.carry ?? Buffer.alloc(0);
    this.carry = null;
    return rest;
  }

  /** Length of the longest suffix of buf[from..] that is a proper prefix of some needle. */
  private partialTail(buf: Buffer, from: number): number {
    let maxLen = 0;
    for (const n of this.needles) if (n.length > maxLen) maxLen = n.length;
    const start = Math.max(from, buf.length - (maxLen - 1));
    for (let i = start; i < buf.length; i++) {
      if (this.firstBytes[buf[i] as number] !== 1) continue;
      const len = buf.length - i;
      for (const n of this.needles) {
        if (n.length > len && buf.compare(n, 0, len, i, buf.length) === 0) return len;
      }
    }
    return 0;
  }
}

/** True when a header value contains any needle. */
export function headerLeaks(value: string, needles: readonly Buffer[]): boolean {
  // Header values may have been decoded as latin1 or utf8 by the HTTP client: check both byte forms.
  const latin1 = Buffer.from(value, "latin1");
  const utf8 = Buffer.from(value, "utf8");
  for (const n of needles) if (latin1.indexOf(n) !== -1 || utf8.indexOf(n) !== -1) return true;
  return false;
}
