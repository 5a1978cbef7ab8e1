/**
 * A strict reader of `multipart/form-data` bodies (RFC 7578) for constraints and the `_method` check: the field
 * names and text values a form parser would hand an upstream. Multipart parsers disagree on every irregularity
 * (preambles, quoted names with escapes, `name*=`, repeated headers, a missing final boundary), and each
 * disagreement is a way to show the gateway one field and the upstream another. So anything irregular makes the
 * body unreadable (null) and the caller refuses it; only the plain form browsers and HTTP clients send is read.
 */

export interface MultipartField {
  name: string;
  /** The value as UTF-8 text, or null for a file part or a value that is not UTF-8. */
  value: string | null;
}

const BCHARS = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;
const UTF8 = new TextDecoder("utf-8", { fatal: true });
const MAX_PARTS = 1000;

/** The boundary parameter of a multipart Content-Type's parameters, or null. */
export function multipartBoundary(params: ReadonlyMap<string, string>): string | null {
  const b = params.get("boundary");
  return b !== undefined && BCHARS.test(b) ? b : null;
}

function dispositionName(value: string): { name: string; file: boolean } | null {
  // form-data; name="x"; filename="y" — quoted names only, no backslash escapes, no RFC 5987 `name*`.
  const m = /^form-data((?:\s*;\s*[A-Za-z*]+="[^"\\\r\n]*")*)\s*$/i.exec(value);
  if (!m) return null;
  const params = new Map<string, string>();
  for (const p of (m[1] ?? "").matchAll(/;\s*([A-Za-z*]+)="([^"]*)"/g)) {
    const key = (p[1] as string).toLowerCase();
    if (params.has(key) || key.endsWith("*")) return null;
    params.set(key, p[2] as string);
  }
  const name = params.get("name");
  if (name === undefined) return null;
  return { name, file: params.has("filename") };
}

function readPart(part: Buffer): MultipartField | null {
  const split = part.indexOf("\r\n\r\n");
  if (split === -1) return null;
  const head = part.subarray(0, split).toString("latin1");
  let disposition: { name: string; file: boolean } | null = null;
  const seen = new Set<string>();
  for (const line of head.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon <= 0 || /^\s/.test(line)) return null; // no folded or nameless header lines
    const name = line.slice(0, colon).trim().toLowerCase();
    if (seen.has(name)) return null;
    seen.add(name);
    if (name === "content-disposition") disposition = dispositionName(line.slice(colon + 1).trim());
    else if (name === "content-transfer-encoding") return null; // some parsers decode it, most do not
  }
  if (!disposition) return null;
  const name = Buffer.from(disposition.name, "latin1");
  let decodedName: string;
  try {
    decodedName = UTF8.decode(name);
  } catch {
    return null;
  }
  if (disposition.file) return { name: decodedName, value: null };
  try {
    return { name: decodedName, value: UTF8.decode(part.subarray(split + 4)) };
  } catch {
    return { name: decodedName, value: null };
  }
}

/** The fields of a multipart body, or null when it is not exactly the regular form. */
export function parseMultipart(body: Buffer, boundary: string): MultipartField[] | null {
  const delimiter = Buffer.from(`--${boundary}`, "latin1");
  const next = Buffer.from(`\r\n--${boundary}`, "latin1");
  // No preamble: the body starts with the first delimiter.
  if (!body.subarray(0, delimiter.length).equals(delimiter)) return null;
  let at = delimiter.length;
  const fields: MultipartField[] = [];
  for (;;) {
    const after = body.subarray(at, at + 2).toString("latin1");
    if (after === "--") {
      // The close delimiter; only an empty epilogue or a single CRLF may follow.
      const rest = body.subarray(at + 2).toString("latin1");
      return rest === "" || rest === "\r\n" ? fields : null;
    }
    if (after !== "\r\n" || fields.length >= MAX_PARTS) return null;
    const end = body.indexOf(next, at + 2);
    if (end === -1) return null;
    const field = readPart(body.subarray(at + 2, end));
    if (!field) return null;
    fields.push(field);
    at = end + next.length;
  }
}
