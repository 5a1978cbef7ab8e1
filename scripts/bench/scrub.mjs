import { Bench } from "tinybench";
import { buildNeedles, matchAt, Scrubber } from "../../dist/gateway/scrub.js";

/**
 * Per-response cost of the secret scrubber (rules 7, 13), in process: `npm run build && node scripts/bench/scrub.mjs`
 * (`--ms=N` per task, default 1000). A response = a new scrubber, the body pushed in 16 KiB chunks (what a socket
 * delivers), end(). Bodies of 1, 16 and 256 KiB of JSON that does not contain the secret (the common case).
 *
 * Three searchers:
 * - "one pass" (src/gateway/scrub.ts, adopted): one walk over the bytes with a first-byte table, then a match
 *   attempt (each needle byte in any spelling) at each candidate.
 * - "indexOf per needle, larger set": the previous algorithm (one Buffer#indexOf per needle, leftmost wins),
 *   given the same coverage the only way it can: every needle spelled out in each encoder's style (percent
 *   upper/lower, form, JSON, JSON `\/`, `\u00xx`/`\u00XX`, HTML decimal/hex/named). It still misses mixed
 *   spellings, so it is the lower bound of what that approach would cost.
 * - "indexOf per needle, old set": the previous algorithm with the previous needles (raw, base64, one
 *   percent-encoded and one JSON form): what a response cost before rule 13.
 *
 * Figures (node 20, a shared 2-core machine at load ~16, `--ms=1000`; median µs per response, 4 needles):
 *   body      adopted (anchor)   one pass (table)   indexOf, larger set (13)   indexOf, old set (5)
 *   1 KiB          4.4                 6.5                 10.2                      4.6
 *   16 KiB         9.0                42.5                 28.1                      9.6
 *   256 KiB      168.5               773.0                441.2                    135.0
 * A secret starting with `/`: 85.9 µs at 256 KiB (anchored after it); starting with `/+` (no anchor, scanned
 * with the table): 769 µs. The one-pass scan pays a JS loop over every byte; `indexOf` of a literal run is native.
 */

const ms = Number(process.argv.find((a) => a.startsWith("--ms="))?.slice(5) ?? 1000);

/** The adopted Scrubber with its search replaced by one walk over every byte with a first-byte table. */
class OnePassScrubber extends Scrubber {
  find(buf, from) {
    const firstByte = this.firstByte;
    for (let i = from; i < buf.length; i++) {
      const c = buf[i];
      if (firstByte[c] === 0) continue;
      let best = -1;
      for (const idx of this.byFirst[c]) {
        const e = matchAt(this.needles[idx], buf, i);
        if (e > best) best = e;
      }
      if (best >= 0) {
        this.matchStart = i;
        this.matchEnd = best;
        return true;
      }
    }
    return false;
  }
}

/** The previous Scrubber (before rule 13), verbatim apart from types: one indexOf per needle. */
class IndexOfScrubber {
  found = 0;
  carry = null;
  constructor(needles) {
    this.needles = needles;
    this.firstBytes = new Uint8Array(256);
    for (const n of needles) this.firstBytes[n[0]] = 1;
    this.maxLen = Math.max(...needles.map((n) => n.length));
  }
  push(chunk) {
    const buf = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = null;
    let pos = 0;
    let out = null;
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
      out.push(Buffer.from("[REDACTED]"));
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
  end() {
    const rest = this.carry ?? Buffer.alloc(0);
    this.carry = null;
    return rest;
  }
  partialTail(buf, from) {
    const start = Math.max(from, buf.length - (this.maxLen - 1));
    for (let i = start; i < buf.length; i++) {
      if (this.firstBytes[buf[i]] !== 1) continue;
      const len = buf.length - i;
      for (const n of this.needles) if (n.length > len && buf.compare(n, 0, len, i, buf.length) === 0) return len;
    }
    return 0;
  }
}

const PLAIN = /[A-Za-z0-9._~-]/;
const hex = (c) => c.charCodeAt(0).toString(16).padStart(2, "0");
const each = (s, f) => [...s].map((c) => (PLAIN.test(c) ? c : f(c))).join("");
const STYLES = [
  (s) => s,
  (s) => each(s, (c) => `%${hex(c).toUpperCase()}`),
  (s) => each(s, (c) => `%${hex(c)}`),
  (s) => each(s, (c) => (c === " " ? "+" : `%${hex(c).toUpperCase()}`)),
  (s) => JSON.stringify(s).slice(1, -1),
  (s) => JSON.stringify(s).slice(1, -1).replaceAll("/", "\\/"),
  (s) => each(s, (c) => `\\u00${hex(c)}`),
  (s) => each(s, (c) => `\\u00${hex(c).toUpperCase()}`),
  (s) => each(s, (c) => `&#${c.charCodeAt(0)};`),
  (s) => each(s, (c) => `&#x${hex(c)};`),
  (s) => each(s, (c) => `&#X${hex(c).toUpperCase()};`),
  (s) => each(s, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "/": "&sol;" })[c] ?? c),
];
const uniq = (bufs) => [...new Map(bufs.map((b) => [b.toString("latin1"), b])).values()];

/** Every needle spelled in every encoder's style. */
const expanded = (needles) =>
  uniq(needles.flatMap((n) => STYLES.map((f) => Buffer.from(f(n.toString("latin1")), "latin1"))));

/** The previous buildNeedles: raw, base64 (from the current one), percent-encoded and JSON-escaped. */
function oldNeedles(secret) {
  const base = buildNeedles([secret]);
  const text = secret.toString("utf8");
  return uniq([...base, Buffer.from(encodeURIComponent(text)), Buffer.from(JSON.stringify(text).slice(1, -1))]);
}

// A realistic echo target: an API key with `/` and `+` (AWS-style), so base64 and escapes all matter.
const secret = Buffer.from("sk_test_FAKE_wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY+9q");
const needles = buildNeedles([secret]);
const sets = { wide: expanded(needles), old: oldNeedles(secret) };

function jsonBody(bytes) {
  const item = (i) =>
    JSON.stringify({
      id: `cus_${(i * 7919).toString(36).padStart(14, "0")}`,
      object: "customer",
      email: `user${i}@example.com`,
      description: "A customer with a fairly ordinary description & some punctuation: 50% off / today",
      metadata: { order: String(i), url: `https://example.com/a/b?c=${i}&d=%2F` },
    });
  let s = '{"data":[';
  for (let i = 0; s.length < bytes; i++) s += `${i ? "," : ""}${item(i)}`;
  return Buffer.from(`${s.slice(0, bytes - 2)}]}`);
}

function scrubWith(make, body) {
  const s = make();
  let n = 0;
  for (let i = 0; i < body.length; i += 16384) n += s.push(body.subarray(i, i + 16384)).length;
  return n + s.end().length;
}

const bench = new Bench({ time: ms, warmupTime: Math.min(300, ms / 2) });
for (const kib of [1, 16, 256]) {
  const body = jsonBody(kib * 1024);
  bench.add(`${kib} KiB adopted: indexOf per anchor (${needles.length} needles, any spelling)`, () =>
    scrubWith(() => new Scrubber(needles), body),
  );
  bench.add(`${kib} KiB one pass, first-byte table (same needles)`, () =>
    scrubWith(() => new OnePassScrubber(needles), body),
  );
  bench.add(`${kib} KiB indexOf per needle, larger set (${sets.wide.length} needles)`, () =>
    scrubWith(() => new IndexOfScrubber(sets.wide), body),
  );
  bench.add(`${kib} KiB indexOf per needle, old set (${sets.old.length} needles)`, () =>
    scrubWith(() => new IndexOfScrubber(sets.old), body),
  );
}
// A secret whose first byte has several spellings: anchored on the run after it (two such bytes: scanned).
const slashNeedles = buildNeedles([Buffer.from("/sk_test_FAKE_wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY+9q")]);
const big = jsonBody(256 * 1024);
bench.add("256 KiB adopted, secret starting with '/'", () => scrubWith(() => new Scrubber(slashNeedles), big));
const scannedNeedles = buildNeedles([Buffer.from("/+sk_test_FAKE_wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY+9q")]);
bench.add("256 KiB adopted, secret starting with '/+' (scanned)", () =>
  scrubWith(() => new Scrubber(scannedNeedles), big),
);
await bench.warmup?.();
await bench.run();
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(`node ${process.version}, ${ms} ms per task; median µs per response (p75):`);
for (const t of bench.tasks) {
  if (t.result?.error) throw t.result.error;
  const samples = t.result.samples;
  const p75 = [...samples].sort((a, b) => a - b)[Math.floor(samples.length * 0.75)];
  console.log(`${t.name.padEnd(62)} ${(median(samples) * 1000).toFixed(1).padStart(9)} (${(p75 * 1000).toFixed(1)})`);
}
