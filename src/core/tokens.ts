import { hash as digest, randomBytes } from "node:crypto";
import { crc32 } from "node:zlib";

/**
 * Bearer tokens: `<prefix>_<30 random base62 chars><6 base62 chars of CRC32>`.
 * 30 base62 chars carry ~178 bits; the checksum lets the gateway and secret scanners reject garbage without a
 * lookup. Tokens are stored only as SHA-256 digests and never compared as strings: a presented token is hashed and
 * the fixed-length digest is matched by the store's exact index lookup, so any timing difference concerns digest
 * bytes, which give no way towards a valid token.
 */
export type TokenPrefix = "an" | "ank";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BODY_LEN = 30;
const CHECK_LEN = 6;
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

function base62Fixed(n: number, len: number): string {
  let out = "";
  let v = n >>> 0;
  for (let i = 0; i < len; i++) {
    out = ALPHABET[v % 62] + out;
    v = Math.floor(v / 62);
  }
  return out;
}

function checksum(prefixAndBody: string): string {
  return base62Fixed(crc32(prefixAndBody), CHECK_LEN);
}

export function generateToken(prefix: TokenPrefix): string {
  const head = `${prefix}_${randomBase62(BODY_LEN)}`;
  return head + checksum(head);
}

const SHAPES: Record<TokenPrefix, RegExp> = {
  an: /^an_[0-9A-Za-z]{36}$/,
  ank: /^ank_[0-9A-Za-z]{36}$/,
};

/** True when the token has the right prefix, length, alphabet and checksum. No lookup, no secret compare. */
export function isWellFormed(token: string, prefix: TokenPrefix): boolean {
  if (!SHAPES[prefix].test(token)) return false;
  const cut = token.length - CHECK_LEN;
  return checksum(token.slice(0, cut)) === token.slice(cut);
}

export function hashToken(token: string): Buffer {
  return digest("sha256", token, "buffer");
}
