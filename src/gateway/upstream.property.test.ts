import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkUpstream, originUnchanged, originUnchangedByUrl, pathAbsolute } from "./upstream.js";

/**
 * Rule 1's per-request backstop: the cheap check (`pathAbsolute`) never says "unchanged" where parsing the two URLs
 * would not, so `originUnchanged` answers exactly as the URL-based check, on targets built to confuse a URL parser
 * (slashes, backslashes, the tab and newlines the parser deletes, userinfo and port separators, dot segments,
 * escapes, non-ASCII and lone surrogates). Seeded for CI.
 */

const FC = { seed: 0x1117, numRuns: 5000 };

// Origins as checkUpstream renders them (its `origin`): default and explicit ports, IPv4, IPv6, IDN, http and https.
const ORIGINS = [
  "https://api.example",
  "https://api.example:8443",
  "http://127.0.0.1:9000",
  "http://[::1]:8080",
  "https://xn--bcher-kva.example",
  "http://localhost",
].map((u) => {
  const c = checkUpstream({ upstream: u, insecureUpstream: true });
  if ("error" in c) throw new Error(c.error);
  return c.origin;
});

const PIECES = [
  "/",
  "//",
  "\\",
  "\t",
  "\n",
  "\r",
  " ",
  "\u0000",
  "\u001f",
  "\u007f",
  "@",
  ":",
  "?",
  "#",
  ".",
  "..",
  "%2F",
  "%5C",
  "%2e",
  "%",
  "a",
  "evil.example",
  "a:b@c",
  ":8080",
  "[::1]",
  "\u00e9",
  "\uff0f",
  "\ufe68",
  "\ud800",
  "\udc00",
  "http:",
  "https://evil.example",
];

const piece = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...PIECES) },
  { weight: 1, arbitrary: fc.string({ maxLength: 4, unit: "binary" }) },
);
const target = fc.array(piece, { minLength: 0, maxLength: 8 }).map((p) => p.join(""));
// Most targets a canonicaliser would pass start with "/": weight them so the fast path is exercised hard.
const slashTarget = target.map((t) => `/${t}`);

describe("originUnchanged: the cheap check agrees with the URL parse (rule 1)", () => {
  it("never accepts a target the URL-based check refuses, and answers the same overall", () => {
    fc.assert(
      fc.property(fc.constantFrom(...ORIGINS), fc.oneof(slashTarget, target), (origin, t) => {
        const byUrl = originUnchangedByUrl(origin, t);
        if (pathAbsolute(t)) expect(byUrl).toBe(true);
        expect(originUnchanged(origin, t)).toBe(byUrl);
      }),
      FC,
    );
  });

  it("refuses the known ways to move the origin, the ones the parser's tab and newline stripping makes", () => {
    for (const origin of ORIGINS) {
      for (const t of ["//evil.example/x", "/\\evil.example/x", "/\t/evil.example", "/\n\\evil.example", "\\\\evil"]) {
        expect(pathAbsolute(t)).toBe(false);
        expect(originUnchanged(origin, t)).toBe(false);
      }
      expect(originUnchanged(origin, "/v1/items?limit=1")).toBe(true);
      expect(originUnchanged(origin, "/")).toBe(true);
    }
  });
});
