import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { buildNeedles, headerLeaks, REDACTION_MARKER, Scrubber, TAIL_REDACT_BYTES } from "./scrub.js";

/**
 * SECURITY.md rules 7 and 13, at the lowest level. Every loop here is exhaustive (each offset, each split point),
 * nothing is random: a failure names the form, offset and cut that leaked.
 */

// Fixed and obviously fake, with every character the usual encoders treat differently: / + = & space " < ' \
const SECRET = `sk_test_FAKE_9f8e7d/a+b=c&d e"f<g'h\\i`;
const needles = buildNeedles([Buffer.from(SECRET)]);

/** Feeds `data` in pieces cut at `cuts` (ascending) and returns what the scrubber let through. */
function run(data: string | Buffer, cuts: readonly number[], n = needles): { out: string; found: number } {
  const buf = typeof data === "string" ? Buffer.from(data, "latin1") : data;
  const s = new Scrubber(n);
  const parts: Buffer[] = [];
  let prev = 0;
  for (const c of [...cuts, buf.length]) {
    parts.push(s.push(buf.subarray(prev, c)));
    prev = c;
  }
  parts.push(s.end());
  return { out: Buffer.concat(parts).toString("latin1"), found: s.found };
}

const PLAIN = /^[A-Za-z0-9._~-]$/;
const hex = (c: string) => c.charCodeAt(0).toString(16).padStart(2, "0");
const each = (s: string, f: (c: string) => string) => [...s].map((c) => (PLAIN.test(c) ? c : f(c))).join("");
const HTML_NAMED: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** The secret as the usual encoders write it (what an upstream echoing the request may send back). */
const ESCAPED_FORMS: ReadonlyArray<readonly [string, string]> = [
  ["raw", SECRET],
  ["encodeURIComponent (upper-case hex)", encodeURIComponent(SECRET)],
  ["percent, lower-case hex", encodeURIComponent(SECRET).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase())],
  ["form-urlencoded (+ for space)", new URLSearchParams({ v: SECRET }).toString().slice(2)],
  ["Python quote (/ kept, the rest escaped)", each(SECRET, (c) => (c === "/" ? c : `%${hex(c).toUpperCase()}`))],
  ["JSON.stringify", JSON.stringify(SECRET).slice(1, -1)],
  ["JSON with \\/ (PHP)", JSON.stringify(SECRET).slice(1, -1).replaceAll("/", "\\/")],
  [
    "JSON, Go (& < > as \\u00xx)",
    JSON.stringify(SECRET)
      .slice(1, -1)
      .replace(/[&<>]/g, (c) => `\\u00${hex(c)}`),
  ],
  ["JSON, every punctuation as \\u00XX", each(SECRET, (c) => `\\u00${hex(c).toUpperCase()}`)],
  ["HTML escape (&amp; &lt; &quot; &#39;)", each(SECRET, (c) => HTML_NAMED[c] ?? c)],
  ["HTML htmlspecialchars ENT_QUOTES (&#039;)", each(SECRET, (c) => (c === "'" ? "&#039;" : (HTML_NAMED[c] ?? c)))],
  ["HTML decimal &#47;", each(SECRET, (c) => `&#${c.charCodeAt(0)};`)],
  ["HTML hex &#x2f;", each(SECRET, (c) => `&#x${hex(c)};`)],
  ["HTML hex &#X2F;", each(SECRET, (c) => `&#X${hex(c).toUpperCase()};`)],
  [
    "HTML named (&sol; &plus; &equals;)",
    each(SECRET, (c) => ({ "/": "&sol;", "+": "&plus;", "=": "&equals;" })[c] ?? c),
  ],
];

/** Base64 of the secret inside a longer string, at each of the three alignments, and re-escaped. */
const BASE64_FORMS: ReadonlyArray<readonly [string, string]> = ["", "B", "Be"].flatMap((pre) => {
  const std = Buffer.from(`${pre}${SECRET}`).toString("base64");
  return [
    [`base64 after ${pre.length} bytes`, std],
    [`base64url after ${pre.length} bytes`, Buffer.from(`${pre}${SECRET}`).toString("base64url")],
    [`base64 after ${pre.length} bytes, JSON \\/`, std.replaceAll("/", "\\/")],
    [`base64 after ${pre.length} bytes, percent-encoded`, encodeURIComponent(std)],
  ] as const;
});

const FILL = '{"echo":"'; // what precedes the echo; cut to each length 0..FILL.length
const END = '"}';

describe("Scrubber: every usual re-encoding, every offset, every split point (rules 7, 13)", () => {
  it.each(ESCAPED_FORMS)("%s: redacted exactly, whatever the offset and chunk boundary", (_name, enc) => {
    for (let pre = 0; pre <= FILL.length; pre++) {
      const body = `${FILL.slice(0, pre)}${enc}${END}`;
      const want = `${FILL.slice(0, pre)}${REDACTION_MARKER}${END}`;
      for (let cut = 0; cut <= body.length; cut++) expect(run(body, [cut]).out, `offset ${pre} cut ${cut}`).toBe(want);
    }
    // one byte at a time, and two cuts at every pair of points inside the echo
    const body = `x${enc}y`;
    expect(
      run(
        body,
        Array.from({ length: body.length }, (_, i) => i),
      ).out,
    ).toBe(`x${REDACTION_MARKER}y`);
    for (let a = 1; a <= enc.length; a++) {
      for (let b = a; b <= enc.length + 1; b++)
        expect(run(body, [a, b]).out, `cuts ${a},${b}`).toBe(`x${REDACTION_MARKER}y`);
    }
  });

  it.each(BASE64_FORMS)(
    "%s: redacted, at most the 4 boundary characters (mixed with neighbours) kept",
    (_name, enc) => {
      const edge = "[A-Za-z0-9+/_=%\\\\-]{0,4}";
      for (let pre = 0; pre <= FILL.length; pre++) {
        const body = `${FILL.slice(0, pre)}${enc}${END}`;
        const shape = new RegExp(`^${escapeRe(FILL.slice(0, pre))}${edge}${escapeRe(REDACTION_MARKER)}${edge}"}$`);
        for (let cut = 0; cut <= body.length; cut++) {
          const r = run(body, [cut]);
          // Count an escaped boundary character (`%3D`, `\/`) as the one character it stands for.
          const unescaped = r.out.replace(/%(2B|2F|3D)/g, (m) => decodeURIComponent(m)).replaceAll("\\/", "/");
          expect(unescaped, `offset ${pre} cut ${cut}`).toMatch(shape);
          expect(r.found).toBe(1);
        }
      }
    },
  );

  it("a spelling mixed within one echo (a JSON string inside HTML, half percent-encoded) is still found", () => {
    const mixed = each(SECRET, (c) => (c === "/" ? "\\/" : c === "&" ? "&amp;" : c === "+" ? "%2b" : c));
    expect(run(`a${mixed}b`, []).out).toBe(`a${REDACTION_MARKER}b`);
  });

  it("a secret starting with one or two characters that have several spellings is found in each form", () => {
    for (const lead of ["/", "+", "=", "&", " ", "/+", "&="]) {
      const odd = `${lead}FAKE_${lead}key`;
      const n = buildNeedles([Buffer.from(odd)]);
      const encodings = [
        odd,
        encodeURIComponent(odd),
        JSON.stringify(odd).slice(1, -1).replaceAll("/", "\\/"),
        each(odd, (c) => `&#x${hex(c)};`),
      ];
      for (const enc of encodings) {
        for (let cut = 0; cut <= enc.length + 2; cut++)
          expect(run(`a${enc}b`, [cut], n).out).toBe(`a${REDACTION_MARKER}b`);
      }
    }
  });

  it("leaves text without the secret alone: entities, escapes and base64 of other data pass unchanged", () => {
    const text = `a &amp; b %2F c \\/ d \\u0026 e ${Buffer.from("other data").toString("base64")} sk_test_OTHER`;
    for (let cut = 0; cut <= text.length; cut++) expect(run(text, [cut]).out).toBe(text);
  });
});

describe("Scrubber: long inputs are searched with indexOf, short ones walked byte by byte: both find the same", () => {
  // Longer than the scrubber's short-input walk (96 bytes), and made of bytes no needle starts with.
  const PAD = ".".repeat(300);

  it("every form above, after a long prefix, at every chunk boundary", () => {
    for (const [name, enc] of [...ESCAPED_FORMS, ...BASE64_FORMS]) {
      const short = run(`x${enc}y`, []);
      expect(short.found, name).toBe(1);
      const body = `${PAD}x${enc}y${PAD}`;
      for (let cut = PAD.length - 2; cut <= PAD.length + enc.length + 3; cut++) {
        const r = run(body, [cut]);
        expect(r.out, `${name} cut ${cut}`).toBe(`${PAD}${short.out}${PAD}`);
        expect(r.found).toBe(1);
      }
    }
  });

  it("secrets starting with characters that have several spellings, and text without the secret", () => {
    for (const lead of ["/", "+", "=", "&", " ", "/+", "&="]) {
      const odd = `${lead}FAKE_${lead}key`;
      const n = buildNeedles([Buffer.from(odd)]);
      for (const enc of [odd, encodeURIComponent(odd), each(odd, (c) => `&#x${hex(c)};`)]) {
        expect(run(`${PAD}a${enc}b`, [], n).out, `${lead} ${enc}`).toBe(`${PAD}a${REDACTION_MARKER}b`);
      }
    }
    const text = `a &amp; b %2F c \\/ d \\u0026 e ${Buffer.from("other data").toString("base64")} sk_test_OTHER`;
    expect(run(`${PAD}${text}${PAD}`, []).out).toBe(`${PAD}${text}${PAD}`);
  });
});

describe("Scrubber: the end of a body", () => {
  it(`a body cut at any point inside an echo (any form) ending in ${TAIL_REDACT_BYTES}+ of its bytes is redacted`, () => {
    const forms = [...ESCAPED_FORMS, ...BASE64_FORMS.filter(([n]) => n.startsWith("base64 after 0"))];
    for (const [name, enc] of forms) {
      // Base64 forms end in boundary characters and padding outside the needle: stop before them.
      const last = name.startsWith("base64") ? enc.length - 10 : enc.length;
      for (let k = 1; k < last; k++) {
        const body = `head ${enc.slice(0, k)}`;
        const want = `head ${k >= TAIL_REDACT_BYTES ? REDACTION_MARKER : enc.slice(0, k)}`;
        // no cut, a cut inside the tail, a cut before its last byte
        for (const cuts of [[], [5 + (k >> 1)], [body.length - 1]]) {
          expect(run(body, cuts).out, `${name} k=${k} cuts=${cuts}`).toBe(want);
        }
      }
    }
  });

  it("the threshold is exact: 3 leading bytes of the raw secret are released, 4 are redacted", () => {
    expect(run(`x ${SECRET.slice(0, 3)}`, []).out).toBe(`x ${SECRET.slice(0, 3)}`);
    expect(run(`x ${SECRET.slice(0, 4)}`, []).out).toBe(`x ${REDACTION_MARKER}`);
  });

  it("a tail held back at a chunk boundary is released whole when the next chunk shows it was not the secret", () => {
    const s = new Scrubber(needles);
    const event = Buffer.from('data: {"ok":true}\n\n');
    expect(s.push(event).toString()).toBe(event.toString());
    expect(s.push(Buffer.from(`x ${SECRET.slice(0, 9)}`)).toString()).toBe("x ");
    expect(s.push(Buffer.from("not-it")).toString()).toBe(`${SECRET.slice(0, 9)}not-it`);
    expect(s.end().length).toBe(0);
  });
});

describe("Scrubber: binary bodies", () => {
  // Deterministic filler: SHA-256 in counter mode (every byte value occurs, no Math.random).
  const filler = Buffer.concat(Array.from({ length: 8 }, (_, i) => createHash("sha256").update(`f${i}`).digest()));

  it("finds the secret at every offset of binary data, with a chunk boundary at every point around it", () => {
    const raw = Buffer.from(SECRET, "latin1");
    for (let off = 0; off <= 64; off++) {
      const data = Buffer.concat([filler.subarray(0, off), raw, filler.subarray(off, off + 40)]);
      for (let cut = Math.max(0, off - 8); cut <= Math.min(data.length, off + raw.length + 8); cut++) {
        const r = run(data, [cut]);
        expect(r.out.includes(SECRET), `offset ${off} cut ${cut}`).toBe(false);
        expect(r.found).toBeGreaterThanOrEqual(1);
      }
    }
  });
});

describe("headerLeaks", () => {
  it("finds the secret in any form in a header value, and a value ending in its start", () => {
    for (const [, enc] of [...ESCAPED_FORMS, ...BASE64_FORMS]) {
      expect(headerLeaks(`https://other.example/?key=${enc}&x=1`, needles)).toBe(true);
    }
    expect(headerLeaks(`https://other.example/?key=${SECRET.slice(0, 6)}`, needles)).toBe(true);
    expect(headerLeaks(`Basic ${Buffer.from(`u:${SECRET}`).toString("base64")}`, needles)).toBe(true);
    expect(headerLeaks("application/json", needles)).toBe(false);
    expect(headerLeaks(`x ${SECRET.slice(0, 3)}`, needles)).toBe(false);
  });

  it("finds a non-ASCII secret whether the client decoded the value as UTF-8 or as latin1", () => {
    const secret = Buffer.from(`pässwörd_FAKE_${randomBytes(6).toString("hex")}`, "utf8");
    const own = buildNeedles([secret]);
    expect(headerLeaks(`x ${secret.toString("utf8")} y`, own)).toBe(true);
    expect(headerLeaks(`x ${secret.toString("latin1")} y`, own)).toBe(true);
    // Characters beyond latin1 whose latin1 form (the low byte) is ASCII: the value is not ASCII all the same.
    const wide = Buffer.from(`ŁŚ_FAKE_${randomBytes(6).toString("hex")}`, "utf8");
    expect(headerLeaks(`x ${wide.toString("utf8")} y`, buildNeedles([wide]))).toBe(true);
  });
});

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
