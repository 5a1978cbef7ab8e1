/**
 * SECURITY.md rules 2 and 15: the request target is canonicalised exactly once; that form is authorised and that
 * exact form is forwarded. Anything a downstream parser could read differently is rejected instead of "fixed":
 *  - only origin-form targets (`/…`): absolute-form (`http://evil/…`), authority-form and `*` are rejected
 *    (rule 1), as are targets starting with `//` (protocol-relative) and any raw `\` (WHATWG URL turns it into `/`);
 *  - percent-escapes must be valid; encoded `\`, `.`, `;`, NUL and other control characters are rejected;
 *    escapes of unreserved characters are decoded (`/%61dmin` → `/admin`, so it is authorised as `/admin` and
 *    forwarded as `/admin`); every other escape is normalised to upper-case hex;
 *  - one decoding only (rule 15): an encoded `%` (`%25`) is rejected wherever it is, so nothing in the canonical
 *    form decodes to another escape (`%252e`, `%2500`, `%25u002e`, `%25%32%65`): an upstream that decodes twice
 *    sees what was authorised. Escapes of bytes >= 0x80 (non-ASCII, and with them overlong or invalid UTF-8 such
 *    as `%C0%AE`, lone continuation bytes and surrogates) are rejected, since upstreams differ in how they decode
 *    and normalise them (fullwidth `%EF%BC%8E` becomes `.` under NFKC);
 *  - an encoded `/` (`%2F`, `%2f`) is decoded to `/` and the pieces are checked like any segment. The request is
 *    then only authorised by a route whose final `**` covers every segment that came from an encoded `/`
 *    (`encodedSlashFrom`, enforced by core/scopes.ts); the forwarded path is the decoded one;
 *  - dot segments (`.`, `..`), empty segments (`//`, trailing `/`) and `;` path parameters are rejected, also
 *    where they appear only after decoding `%2F` (`a%2F..%2Fb`, `a%2F%2Fb`, `a%2F`);
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
  /**
   * Index in `segments` of the first segment that came from a raw segment holding an encoded `/`, or
   * `segments.length` when there is none. Only a route's final `**` may cover segments from this index on.
   */
  encodedSlashFrom: number;
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

/** One decoded piece of a raw segment (a raw segment splits into several only at an encoded `/`). */
function checkPiece(piece: string): string | { error: string } {
  if (piece.length === 0) return { error: "empty path segment" };
  if (piece === "." || piece === "..") return { error: "dot segment in path" };
  return piece;
}

/** Canonical pieces of one raw segment, appended to `out`; returns an error or the number of pieces. */
function canonicalSegment(raw: string, out: string[]): number | { error: string } {
  let piece = "";
  let plain = true;
  let pieces = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 37 /* % */) {
      const hi = hexVal(raw.charCodeAt(i + 1));
      const lo = hexVal(raw.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) return { error: "invalid percent-encoding in path" };
      const v = hi * 16 + lo;
      if (plain) {
        piece = raw.slice(0, i);
        plain = false;
      }
      i += 2;
      if (v === 0x2f) {
        const done = checkPiece(piece);
        if (typeof done !== "string") return done;
        out.push(done);
        pieces++;
        piece = "";
        continue;
      }
      if (v === 0x5c || v === 0x2e || v === 0x3b) return { error: "encoded '\\', '.' or ';' in path" };
      if (v === 0x25) return { error: "encoded '%' in path (a path is decoded once only)" };
      if (v < 0x20 || v === 0x7f) return { error: "encoded control character in path" };
      if (v >= 0x80) return { error: "non-ASCII percent-escape in path" };
      piece += DECODE_UNRESERVED[v] === 1 ? String.fromCharCode(v) : `%${HEX[hi]}${HEX[lo]}`;
      continue;
    }
    if (c === 59 /* ; */) return { error: "';' path parameters are not allowed" };
    if (c >= 128 || PATH_OK[c] !== 1) return { error: "invalid character in path" };
    if (!plain) piece += raw[i];
  }
  const last = checkPiece(plain ? raw : piece);
  if (typeof last !== "string") return last;
  out.push(last);
  return pieces + 1;
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
  if (rawPath === "/") return { path: "/", segments: [], query, encodedSlashFrom: 0 };
  const parts = rawPath.slice(1).split("/");
  const segments: string[] = [];
  let changed = false;
  let encodedSlashFrom = -1;
  for (const raw of parts) {
    const at = segments.length;
    const n = canonicalSegment(raw, segments);
    if (typeof n !== "number") return n;
    if (n > 1 && encodedSlashFrom === -1) encodedSlashFrom = at;
    if (n > 1 || segments[at] !== raw) changed = true;
  }
  return {
    path: changed ? `/${segments.join("/")}` : rawPath,
    segments,
    query,
    encodedSlashFrom: encodedSlashFrom === -1 ? segments.length : encodedSlashFrom,
  };
}
