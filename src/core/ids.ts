import { randomBytes } from "node:crypto";

/**
 * Public identifiers: `<prefix>_<26 chars Crockford base32>` holding a 48-bit millisecond timestamp and 80 random
 * bits (the ULID layout), so ids sort by creation time and make stable pagination cursors.
 */
const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

export type IdPrefix = "nce" | "key" | "evt" | "req" | "svc";

export function newId(prefix: IdPrefix, nowMs: number = Date.now()): string {
  let time = "";
  let t = nowMs;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const rnd = randomBytes(10);
  let bits = 0;
  let acc = 0;
  let tail = "";
  for (const byte of rnd) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      tail += CROCKFORD[(acc >> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  return `${prefix}_${time}${tail}`;
}

const ID_SHAPE = /^[a-z]{3}_[0-9A-HJKMNP-TV-Z]{26}$/;

export function isId(value: string, prefix: IdPrefix): boolean {
  return value.startsWith(`${prefix}_`) && ID_SHAPE.test(value);
}
