import { Bench } from "tinybench";
import { buildNeedles, matchAt, Scrubber } from "../../dist/gateway/scrub.js";

/**
 * Issue 17: would one pass for all needles (Aho–Corasick) beat the adopted scrubber's one native `indexOf` per
 * needle anchor? `npm run build && node scripts/bench/scrub-aho.mjs [--ms=N]`. The prototype keeps everything of
 * the adopted Scrubber but its search: the anchors (each needle's leading run of single-spelling bytes, what
 * `indexOf` looks for) go into one dense Aho–Corasick automaton (Int32Array, 256 transitions a state), walked once
 * over the body; a hit is verified with the same `matchAt`. A measuring prototype only: mixed spellings make the
 * full needles impossible to list as AC patterns, so any AC scrubber would have this shape. Bodies hold no secret
 * (the common case: the cost is the scan). The automaton is built once per needle set, as it would be per cached
 * credential, so only the scan is compared. Needle sets: 1 secret (a bearer key), 2 (basic: pair and password),
 * 6 and 12 secrets (several credentials per request).
 */

const ms = Number(process.argv.find((a) => a.startsWith("--ms="))?.slice(5) ?? 1000);

function automaton(patterns) {
  const goto = [new Int32Array(256).fill(-1)];
  const out = [[]];
  for (let p = 0; p < patterns.length; p++) {
    let s = 0;
    for (const b of patterns[p]) {
      if (goto[s][b] === -1) {
        goto[s][b] = goto.length;
        goto.push(new Int32Array(256).fill(-1));
        out.push([]);
      }
      s = goto[s][b];
    }
    out[s].push(p);
  }
  const fail = new Int32Array(goto.length);
  const queue = [];
  for (let b = 0; b < 256; b++) {
    const t = goto[0][b];
    if (t === -1) goto[0][b] = 0;
    else queue.push(t);
  }
  while (queue.length) {
    const s = queue.shift();
    for (let b = 0; b < 256; b++) {
      const t = goto[s][b];
      if (t === -1) goto[s][b] = goto[fail[s]][b];
      else {
        fail[t] = goto[fail[s]][b];
        out[t] = out[t].concat(out[fail[t]]);
        queue.push(t);
      }
    }
  }
  const delta = new Int32Array(goto.length * 256);
  for (let s = 0; s < goto.length; s++) delta.set(goto[s], s * 256);
  const hasOut = Uint8Array.from(out, (o) => (o.length ? 1 : 0));
  return { delta, hasOut, out };
}

/** Built once per needle set (as it would be per cached credential): only the scan is measured. */
const automata = new WeakMap();

/** The first offset ≥ from where an anchor ends, or -1: one table step per byte. */
function scan(delta, hasOut, buf, from, state) {
  let s = state;
  for (let i = from; i < buf.length; i++) {
    s = delta[(s << 8) | buf[i]];
    if (hasOut[s] === 1) return { i, s };
  }
  return null;
}

class AhoScrubber extends Scrubber {
  constructor(needles) {
    super(needles);
    let ac = automata.get(needles);
    if (!ac) {
      ac = automaton(this.anchors.map((a) => a.run));
      automata.set(needles, ac);
    }
    this.ac = ac;
  }
  find(buf, from) {
    const { delta, hasOut, out } = this.ac;
    let best = -1;
    let bestEnd = -1;
    let at = from;
    let s = 0;
    for (let hit = scan(delta, hasOut, buf, at, s); hit !== null; hit = scan(delta, hasOut, buf, at, s)) {
      const i = hit.i;
      s = hit.s;
      at = i + 1;
      for (const a of out[s]) {
        const { idx, run } = this.anchors[a];
        const start = i - run.length + 1; // anchors with a multi-spelling lead byte are not measured here
        if (start < from) continue;
        const e = matchAt(this.needles[idx], buf, start);
        if (e >= 0 && (best === -1 || start < best || (start === best && e > bestEnd))) {
          best = start;
          bestEnd = e;
        }
      }
      if (best !== -1 && i >= best + this.window) break;
    }
    if (best === -1) return false;
    this.matchStart = best;
    this.matchEnd = bestEnd;
    return true;
  }
}

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

const key = (i) => Buffer.from(`sk_test_FAKE_${i}wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY+9q`);
const sets = {
  "1 secret": buildNeedles([key(0)]),
  "basic pair": buildNeedles([Buffer.from(`acct_FAKE:${key(1)}`), key(1)]),
  "6 secrets": buildNeedles(Array.from({ length: 6 }, (_, i) => key(i))),
  "12 secrets": buildNeedles(Array.from({ length: 12 }, (_, i) => key(i))),
};
// Sanity: both find an echo at every chunk position the same way.
for (const needles of Object.values(sets)) {
  const body = Buffer.concat([
    jsonBody(40_000),
    Buffer.from(needles[0].toString("base64")),
    needles[0],
    jsonBody(3000),
  ]);
  const a = Buffer.concat([new Scrubber(needles).push(body)]);
  const b = Buffer.concat([new AhoScrubber(needles).push(body)]);
  if (!a.equals(b)) throw new Error("the prototype disagrees with the adopted scrubber");
}

const bench = new Bench({ time: ms, warmupTime: Math.min(300, ms / 2) });
for (const kib of [1, 16, 1024]) {
  const body = jsonBody(kib * 1024);
  for (const [name, needles] of Object.entries(sets)) {
    bench.add(`${kib} KiB, ${name} (${needles.length} needles): indexOf per anchor`, () =>
      scrubWith(() => new Scrubber(needles), body),
    );
    bench.add(`${kib} KiB, ${name} (${needles.length} needles): Aho–Corasick`, () =>
      scrubWith(() => new AhoScrubber(needles), body),
    );
  }
}
await bench.run();
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(`node ${process.version}, ${ms} ms per task; median µs per response, and per KiB:`);
for (const t of bench.tasks) {
  if (t.result?.error) throw t.result.error;
  const us = median(t.result.samples) * 1000;
  const kib = Number(t.name.split(" ")[0]);
  console.log(`${t.name.padEnd(66)} ${us.toFixed(1).padStart(9)} ${(us / kib).toFixed(2).padStart(8)}`);
}
