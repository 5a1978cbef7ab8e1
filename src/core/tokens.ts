import { hash as digest, randomBytes } from "node:crypto";
import { crc32 } from "node:zlib";

/**
 * Bearer tokens, base62, the last 6 chars a CRC32 checksum of everything before them, so the gateway and secret
 * scanners reject garbage without a lookup:
 * - nonces: `an_<7 chars: issuance ms><30 random chars><6 checksum>`. The time chars make the stored lookup key
 *   (`tokenKey`) time-ordered, so issuance appends at the right edge of the unique index instead of writing a
 *   random leaf of it (at 10 M stored nonces that random write was most of each commit). The time is not secret:
 *   nonce ids (`nce_…`) are ULIDs that already carry it. Tokens issued before this format
 *   (`an_<30 random><6 checksum>`) stay valid until they expire: a database upgraded in place can hold them.
 * - API keys: `ank_<30 random chars><6 checksum>` (few rows, no index pressure).
 * 30 uniform base62 chars carry ~178 bits. Tokens are stored only as fixed-length digests and never compared as
 * strings: a presented token is turned into its key (time bytes || SHA-256) and the store matches it by an exact
 * index lookup, so any timing difference concerns digest bytes, which give no way towards a valid token. A token
 * whose time chars were altered (and checksum recomputed) has another SHA-256 and another key: it is not found.
 */
export type TokenPrefix = "an" | "ank";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const RANDOM_LEN = 30;
const TIME_LEN = 7;
const CHECK_LEN = 6;
/** 62^7 ms after the epoch is in 2081; the key stores the ms in 6 bytes (62^7 < 2^42). */
const TIME_LIMIT = 62 ** TIME_LEN;
const TIME_BYTES = 6;
const NONCE_LEN = "an_".length + TIME_LEN + RANDOM_LEN + CHECK_LEN;
/** Length of `tokenKey`: 6 bytes of issuance ms, then the 32-byte SHA-256 of the whole token. */
export const TOKEN_KEY_LEN = TIME_BYTES + 32;
// Largest multiple of 62 below 256: bytes at or above it are rejected so every char is uniform.
const REJECT_AT = 248;

function randomBase62(len: number): string {
  let out = "";
  while (out.length < len) {
    const buf = randomBytes(len * 2);
    for (let i = 0; i < buf.length && out.length < len; i++) {
      const b = buf[i] as number;
      if (b < REJECT_AT) out += ALPHABET[b % 62];
    }
  }
  return out;
}

/** Fixed-width base62 of a non-negative integer below 2^53; the alphabet is in ASCII order, so strings sort as numbers. */
function base62Fixed(n: number, len: number): string {
  let out = "";
  let v = n;
  for (let i = 0; i < len; i++) {
    out = ALPHABET[v % 62] + out;
    v = Math.floor(v / 62);
  }
  return out;
}

function checksum(head: string): string {
  return base62Fixed(crc32(head), CHECK_LEN);
}

/** DIGIT[c] = the base62 value of char code c, or -1 (a lookup instead of `ALPHABET.indexOf` on the request path). */
const DIGIT = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DIGIT[ALPHABET.charCodeAt(i)] = i;

/** The number `len` base62 chars of `s` from `at` spell, or -1 when one is not a base62 char. */
function base62Value(s: string, at: number, len: number): number {
  let v = 0;
  for (let i = at; i < at + len; i++) {
    const c = s.charCodeAt(i);
    const d = c < 128 ? (DIGIT[c] as number) : -1;
    if (d < 0) return -1;
    v = v * 62 + d;
  }
  return v;
}

/** `an_` tokens carry their issuance time (`issuedAt`, ms from the clock); `ank_` keys do not. */
export function generateToken(prefix: "ank"): string;
export function generateToken(prefix: "an", issuedAt: number): string;
export function generateToken(prefix: TokenPrefix, issuedAt?: number): string {
  let head = `${prefix}_`;
  if (prefix === "an") {
    const ms = issuedAt as number;
    if (!Number.isSafeInteger(ms) || ms < 0 || ms >= TIME_LIMIT) throw new RangeError("issuance time out of range");
    head += base62Fixed(ms, TIME_LEN);
  }
  head += randomBase62(RANDOM_LEN);
  return head + checksum(head);
}

const SHAPES: Record<TokenPrefix, RegExp> = {
  // 43 = time + random + checksum; 36 = the format before time chars, still accepted (see above).
  an: /^an_(?:[0-9A-Za-z]{43}|[0-9A-Za-z]{36})$/,
  ank: /^ank_[0-9A-Za-z]{36}$/,
};

/** True when the token has the right prefix, length, alphabet and checksum. No lookup, no secret compare. */
export function isWellFormed(token: string, prefix: TokenPrefix): boolean {
  if (!SHAPES[prefix].test(token)) return false;
  const cut = token.length - CHECK_LEN;
  // The same comparison as `checksum(head) === tail`, by value: 6 fixed-width base62 chars spell each number below
  // 62^6 (> 2^32) exactly once, so the tail equals the checksum's spelling exactly when it spells the CRC.
  return base62Value(token, cut, CHECK_LEN) === crc32(token.slice(0, cut));
}

/** The issuance ms carried by a current-format `an_` token; 0 for the older format (and anything else). */
export function tokenIssuedAt(token: string): number {
  if (token.length !== NONCE_LEN || !token.startsWith("an_")) return 0;
  const ms = base62Value(token, 3, TIME_LEN);
  return Math.max(ms, 0);
}

/**
 * The stored lookup key of an `an_` token: 6-byte big-endian issuance ms || SHA-256(token), 38 bytes. Keys of
 * tokens issued later sort after (byte order), so the unique index grows at its right edge. Older-format tokens
 * map to 6 zero bytes || SHA-256, which is what the migration to this key wrote for the nonces issued before it.
 */
export function tokenKey(token: string): Buffer {
  const key = Buffer.allocUnsafe(TOKEN_KEY_LEN);
  key.writeUIntBE(tokenIssuedAt(token), 0, TIME_BYTES);
  digest("sha256", token, "buffer").copy(key, TIME_BYTES);
  return key;
}

/** SHA-256 of a token: the stored form of `ank_` API keys. */
export function hashToken(token: string): Buffer {
  return digest("sha256", token, "buffer");
}
