import { crc32 } from "node:zlib";
import { generateToken } from "../core/tokens.js";

/**
 * Tokens the service no longer issues, built here with an encoder independent of core/tokens.ts (so a wrong
 * encoder there cannot agree with itself in tests): the nonce format before time chars, and nonce tokens whose
 * time chars were rewritten with a recomputed checksum, as an attacker could.
 */
const B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

export function base62(n: number, len: number): string {
  let s = "";
  for (let v = BigInt(n), i = 0; i < len; i++, v /= 62n) s = B62[Number(v % 62n)] + s;
  return s;
}

export const withChecksum = (head: string): string => head + base62(crc32(head), 6);

/** `an_` + 30 random base62 + checksum: the nonce format before issuance time was put in the token. */
export const legacyNonceToken = (): string => withChecksum(`an_${generateToken("ank").slice(4, 34)}`);

/** The same random part under other time chars, with a valid checksum. */
export const retimedToken = (token: string, ms: number): string =>
  withChecksum(`an_${base62(ms, 7)}${token.slice(10, 40)}`);
