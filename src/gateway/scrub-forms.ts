/**
 * SECURITY.md rules 7 and 13: the forms in which an upstream can hand the secret back.
 *
 * A needle is a byte string derived from the secret: the raw secret, and its standard and URL-safe base64 at each
 * of the three byte alignments (so it is found inside a longer base64 string such as an encoded `Authorization`
 * header); for basic auth also the `user:pass` pair and the password alone. The re-encodings an echo goes
 * through are not listed as more needles: the scrubber matches each needle byte against `ALTERNATIVES[byte]`,
 * every spelling the usual encoders give that byte. So a match may mix spellings (Go's JSON escapes `&` as
 * `\u0026` but leaves `/`; Python's `quote` escapes `+` but not `/`; a JSON string inside HTML), and a base64
 * needle is also found JSON-escaped (`\/`) or percent-encoded.
 *
 * Spellings of a byte other than letters, digits and `-._~` (which no usual encoder escapes):
 * - percent-encoding, upper and lower case hex (`%2F`, `%2f`), and `+` for a space (forms);
 * - JSON: `\u00XX` in either case, `\/`, `\"`, `\\` and the short control escapes;
 * - HTML: decimal `&#47;` (and the zero-padded `&#047;` PHP writes), hex `&#x2f;` in any case mix of `x` and the
 *   digits, and the named entities of ASCII punctuation (`&amp;`, `&sol;`, `&plus;`, `&equals;`, …).
 * A byte ≥ 0x80 is matched raw or percent-encoded (JSON and HTML escape code points, not bytes: a secret with
 * non-ASCII characters is caught raw, percent-encoded and in base64 only).
 */

/** Bytes that never get another spelling: letters, digits and the unreserved `-._~`. */
function isPlain(b: number): boolean {
  return (
    (b >= 0x30 && b <= 0x39) ||
    (b >= 0x41 && b <= 0x5a) ||
    (b >= 0x61 && b <= 0x7a) ||
    b === 0x2d ||
    b === 0x2e ||
    b === 0x5f ||
    b === 0x7e
  );
}

// HTML5 named character references for ASCII punctuation (the ones an "encode everything" escaper emits).
const NAMED: Record<string, string[]> = {
  "!": ["excl"],
  '"': ["quot", "QUOT"],
  "#": ["num"],
  $: ["dollar"],
  "%": ["percnt"],
  "&": ["amp", "AMP"],
  "'": ["apos"],
  "(": ["lpar"],
  ")": ["rpar"],
  "*": ["ast", "midast"],
  "+": ["plus"],
  ",": ["comma"],
  "/": ["sol"],
  ":": ["colon"],
  ";": ["semi"],
  "<": ["lt", "LT"],
  "=": ["equals"],
  ">": ["gt", "GT"],
  "?": ["quest"],
  "@": ["commat"],
  "[": ["lsqb", "lbrack"],
  "\\": ["bsol"],
  "]": ["rsqb", "rbrack"],
  "^": ["Hat"],
  "`": ["grave"],
  "{": ["lcub", "lbrace"],
  "|": ["verbar", "vert"],
  "}": ["rcub", "rbrace"],
};

const JSON_SHORT: Record<number, string> = {
  8: "\\b",
  9: "\\t",
  10: "\\n",
  12: "\\f",
  13: "\\r",
  34: '\\"',
  47: "\\/",
  92: "\\\\",
};

function spellings(b: number): string[] {
  const raw = String.fromCharCode(b);
  if (isPlain(b)) return [raw];
  const hex = b.toString(16).padStart(2, "0");
  const HEX = hex.toUpperCase();
  const out = [raw, `%${HEX}`, `%${hex}`];
  if (b === 0x20) out.push("+");
  if (b < 0x80) {
    out.push(`\\u00${hex}`, `\\u00${HEX}`);
    const short = JSON_SHORT[b];
    if (short) out.push(short);
    out.push(`&#${b};`, `&#${String(b).padStart(3, "0")};`);
    for (const x of ["x", "X"]) out.push(`&#${x}${hex};`, `&#${x}${HEX};`);
    for (const name of NAMED[raw] ?? []) out.push(`&${name};`);
  }
  return [...new Set(out)];
}

/** `ALTERNATIVES[b]`: every spelling of byte b, the raw byte first. Static: holds nothing derived from a secret. */
export const ALTERNATIVES: readonly (readonly Uint8Array[])[] = Array.from({ length: 256 }, (_, b) =>
  spellings(b).map((s) => Uint8Array.from(Buffer.from(s, "latin1"))),
);

/** `BY_FIRST_BYTE[b][c]`: the spellings of byte b that start with byte c (a match attempt tries only those). */
export const BY_FIRST_BYTE: readonly (readonly (readonly Uint8Array[] | undefined)[])[] = ALTERNATIVES.map((alts) => {
  const table: Uint8Array[][] = [];
  for (const alt of alts) {
    const c = alt[0] as number;
    const list = table[c] ?? [];
    list.push(alt);
    table[c] = list;
  }
  return table;
});

/** `STARTS[b]`: the distinct first bytes of byte b's spellings (where a match of a needle starting with b can start). */
export const STARTS: readonly Uint8Array[] = ALTERNATIVES.map((alts) =>
  Uint8Array.from(new Set(alts.map((a) => a[0] as number))),
);

/** 1 when byte b has only its raw spelling. */
export const PLAIN: Uint8Array = Uint8Array.from({ length: 256 }, (_, b) => (isPlain(b) ? 1 : 0));

/** The longest spelling of byte b. */
export const MAX_SPELLING: Uint8Array = Uint8Array.from(ALTERNATIVES, (alts) => Math.max(...alts.map((a) => a.length)));

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

/** Every needle for `secrets` (e.g. a basic-auth pair and its password), deduplicated, longest first. */
export function buildNeedles(secrets: readonly Buffer[]): Buffer[] {
  const all: Buffer[] = [];
  for (const s of secrets) {
    if (s.length === 0) continue;
    all.push(Buffer.from(s));
    all.push(...base64Fragments(s));
  }
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
