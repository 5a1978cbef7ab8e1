import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalizeTarget } from "./canonical-path.js";

/**
 * SECURITY.md rules 2 and 15 as properties: for any generated path, either the canonicaliser refuses it, or its
 * canonical form is a fixed point, has no dot or empty segment and no encoded `/ \ . %`, and means the same
 * bytes as the original to an upstream that decodes once, and to one that decodes twice. Seeded for CI.
 */

const FC = { seed: 0x1115, numRuns: 1000 };

/** RFC 3986 percent-decoding to bytes; an invalid escape stays literal (what lenient upstreams do). */
function pctDecode(s: string): Buffer {
  const out: number[] = [];
  const raw = Buffer.from(s, "utf8");
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] as number;
    if (c === 0x25 && i + 2 < raw.length) {
      const hex = raw.subarray(i + 1, i + 3).toString("latin1");
      if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
        out.push(Number.parseInt(hex, 16));
        i += 2;
        continue;
      }
    }
    out.push(c);
  }
  return Buffer.from(out);
}
const decodeOnce = (s: string) => pctDecode(s).toString("latin1");

// Pieces that exercise every branch: separators, dots, escapes of every kind, double encodings, non-ASCII.
const TOKENS = [
  "a",
  "Z",
  "0",
  "2",
  "5",
  "e",
  "F",
  "-",
  "_",
  "~",
  ".",
  "..",
  "/",
  "//",
  "\\",
  ";",
  ":",
  "@",
  "!",
  "+",
  " ",
  "#",
  "é",
  "%",
  "%2F",
  "%2f",
  "%2E",
  "%2e",
  "%5C",
  "%3B",
  "%25",
  "%252e",
  "%252F",
  "%2500",
  "%00",
  "%0A",
  "%7F",
  "%20",
  "%3A",
  "%41",
  "%61",
  "%7e",
  "%C0%AE",
  "%E0%80%AE",
  "%80",
  "%ED%A0%80",
  "%C3%A9",
  "%zz",
  "%4",
];
const anyEscape = fc
  .tuple(fc.integer({ min: 0, max: 255 }), fc.boolean())
  .map(([b, upper]) => `%${b.toString(16).padStart(2, "0")[upper ? "toUpperCase" : "toLowerCase"]()}`);
const token = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...TOKENS) },
  { weight: 2, arbitrary: anyEscape },
  { weight: 1, arbitrary: fc.string({ maxLength: 3 }) },
);
const path = fc.array(token, { minLength: 0, maxLength: 12 }).map((t) => `/${t.join("")}`);

describe("canonicalizeTarget properties (seeded)", () => {
  it("accepted paths canonicalise to a fixed point with no dot, empty or encoded-separator segment", () => {
    let accepted = 0;
    fc.assert(
      fc.property(path, (p) => {
        const r = canonicalizeTarget(p);
        if ("error" in r) return;
        accepted++;
        // Fixed point: the canonical form is accepted as is, with nothing left to decode.
        const again = canonicalizeTarget(r.path);
        expect(again).toEqual({ path: r.path, segments: r.segments, query: "", encodedSlashFrom: r.segments.length });
        expect(r.segments.join("/")).toBe(r.path.slice(1));
        for (const seg of r.segments) {
          expect(seg).not.toBe("");
          expect(seg).not.toBe(".");
          expect(seg).not.toBe("..");
        }
        expect(r.path).not.toMatch(/%(2[FfEe5]|5[Cc])/);
        expect(r.path).not.toMatch(/[^\x21-\x7e]|[\\;#?]/);
        // Every remaining escape is upper-case hex of a byte that is not unreserved.
        for (const m of r.path.matchAll(/%(..)/g)) {
          expect(m[1]).toMatch(/^[0-9A-F]{2}$/);
          expect(String.fromCharCode(Number.parseInt(m[1] as string, 16))).not.toMatch(/[A-Za-z0-9\-_~]/);
        }
        // One decoding and only one: decoding twice sees exactly what decoding once sees...
        expect(decodeOnce(decodeOnce(r.path))).toBe(decodeOnce(r.path));
        // ...and that is what the client's own target meant (escapes of unreserved and '/' decoded, hex cased).
        const q = p.indexOf("?");
        expect(decodeOnce(r.path)).toBe(decodeOnce(q === -1 ? p : p.slice(0, q)));
        expect(r.query).toBe(q === -1 ? "" : p.slice(q + 1));
      }),
      FC,
    );
    // The generator must reach the accepting branch often enough for the properties above to mean something.
    expect(accepted).toBeGreaterThan(50);
  });

  it("segments that came from an encoded '/' are exactly those after the first raw segment holding one", () => {
    const plainSeg = fc.array(fc.constantFrom("a", "b", "%41", "x-y", "%20"), { minLength: 1, maxLength: 3 });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(plainSeg, fc.array(plainSeg, { maxLength: 2 })), { minLength: 1, maxLength: 5 }),
        (raw) => {
          // Each raw segment is pieces joined with an encoded '/'.
          const rawSegs = raw.map(([first, rest]) => [first, ...rest].map((x) => x.join("")).join("%2F"));
          const r = canonicalizeTarget(`/${rawSegs.join("/")}`);
          if ("error" in r) throw new Error(r.error);
          let seen = 0;
          let from = -1;
          for (const [, rest] of raw) {
            if (rest.length > 0 && from === -1) from = seen;
            seen += 1 + rest.length;
          }
          expect(r.segments).toHaveLength(seen);
          expect(r.encodedSlashFrom).toBe(from === -1 ? seen : from);
        },
      ),
      FC,
    );
  });

  it("a refused path stays refused however its escapes are cased", () => {
    fc.assert(
      fc.property(path, (p) => {
        const flip = p.replace(/%[0-9A-Fa-f]{2}/g, (e) => (e === e.toUpperCase() ? e.toLowerCase() : e.toUpperCase()));
        expect("error" in canonicalizeTarget(flip)).toBe("error" in canonicalizeTarget(p));
      }),
      FC,
    );
  });
});
