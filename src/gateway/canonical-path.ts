/**
 * SECURITY.md rule 2: the request target is canonicalised exactly once; that form is authorised and that exact
 * form is forwarded. Anything a downstream parser could read differently is rejected instead of "fixed":
 *  - only origin-form targets (`/…`): absolute-form (`http://evil/…`), authority-form and `*` are rejected
 *    (rule 1), as are targets starting with `//` (protocol-relative) and any raw `\` (WHATWG URL turns it into `/`);
 *  - percent-escapes must be valid; encoded `/`, `\`, `.`, `;`, NUL and other control characters are rejected;
 *    escapes of unreserved characters are decoded (`/%61dmin` → `/admin`, so it is authorised as `/admin` and
 *    forwarded as `/admin`); every other escape is normalised to upper-case hex;
 *  - dot segments (`.`, `..`), empty segments (`//`, trailing `/`) and `;` path parameters are rejected;
 *  - raw characters outside RFC 3986 `pchar` (controls, space, CR/LF, NUL, `"<>^\`{|}`, non-ASCII, `#`) are
 *    rejected in the path; in the query only visible ASCII is accepted and `#` is rejected.
 */

export interface CanonicalTarget {
  /** Canonical path, always starting with `/`. */
  path: string;
  /** Path segments of the canonical path (no leading empty segment; `/` has none). */
  segments: string[];
  /** Raw query string without the `?`, or "" when absent. Validated, not rewritten. */
  query: string;
}

export type CanonicalResult = CanonicalTarget | { error: string };

// Per char code: 1 = allowed as-is in a path segment, 0 = rejected. Built once.
const PATH_OK = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,=:@") {
  PATH_OK[c.charCodeAt(0)] = 1;
}
// Unreserved characters that are decoded when percent-encoded (`.` is excluded: %2E is rejected).
const DECODE_UNRESERVED = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_~") {
  DECODE_UNRESERVED[c.charCodeAt(0)] = 1;
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

const HEX = "0123456789ABCDEF";

function canonicalSegment(raw: string): string | { error: string } {
  if (raw.length === 0) return { error: "empty path segment" };
  let out = "";
  let plain = true;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 37 /* % */) {
      const hi = hexVal(raw.charCodeAt(i + 1));
      const lo = hexVal(raw.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) return { error: "invalid percent-encoding in path" };
      const v = hi * 16 + lo;
      if (v === 0x2f || v === 0x5c || v === 0x2e || v === 0x3b) {
        return { error: "encoded '/', '\\', '.' or ';' in path" };
      }
      if (v < 0x20 || v === 0x7f) return { error: "encoded control character in path" };
      if (plain) {
        out = raw.slice(0, i);
        plain = false;
      }
      out += v < 128 && DECODE_UNRESERVED[v] === 1 ? String.fromCharCode(v) : `%${HEX[hi]}${HEX[lo]}`;
      i += 2;
      continue;
    }
    if (c === 59 /* ; */) return { error: "';' path parameters are not allowed" };
    if (c >= 128 || PATH_OK[c] !== 1) return { error: "invalid character in path" };
    if (!plain) out += raw[i];
  }
  const seg = plain ? raw : out;
  if (seg === "." || seg === "..") return { error: "dot segment in path" };
  return seg;
}

export function canonicalizeTarget(target: string): CanonicalResult {
  if (target.charCodeAt(0) !== 47 /* / */) return { error: "request target must be a path (origin-form)" };
  if (target.charCodeAt(1) === 47 || target.charCodeAt(1) === 92) return { error: "path must not start with '//'" };
  const q = target.indexOf("?");
  const rawPath = q === -1 ? target : target.slice(0, q);
  const query = q === -1 ? "" : target.slice(q + 1);
  for (let i = 0; i < query.length; i++) {
    const c = query.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 35 /* # */) return { error: "invalid character in query" };
  }
  if (rawPath === "/") return { path: "/", segments: [], query };
  const parts = rawPath.slice(1).split("/");
  const segments: string[] = new Array(parts.length);
  let changed = false;
  for (let i = 0; i < parts.length; i++) {
    const raw = parts[i] as string;
    const seg = canonicalSegment(raw);
    if (typeof seg !== "string") return seg;
    if (seg !== raw) changed = true;
    segments[i] = seg;
  }
  return { path: changed ? `/${segments.join("/")}` : rawPath, segments, query };
}
