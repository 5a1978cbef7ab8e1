import { randomFillSync } from "node:crypto";

/**
 * Public identifiers: `<prefix>_<26 chars Crockford base32>` holding a 48-bit millisecond timestamp and 80 random
 * bits (the ULID layout), so ids sort by creation time and make stable pagination cursors.
 *
 * The random bits come from a pooled buffer refilled in bulk: one `randomFillSync` per POOL_SIZE / 10 ids instead of
 * one per id (ids are drawn several times per gateway request). Ids are identifiers, not secrets; tokens draw their
 * own randomness (tokens.ts). Each byte of the pool is used once.
 */
const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const RANDOM_BYTES = 10;
const POOL_SIZE = 4_096 - (4_096 % RANDOM_BYTES);

const pool = Buffer.allocUnsafe(POOL_SIZE);
let poolOffset = POOL_SIZE;

// The time part changes once per millisecond; ids drawn in the same millisecond reuse its encoding.
let lastMs = -1;
let lastTime = "";

export type IdPrefix = "nce" | "key" | "evt" | "req" | "svc" | "apr";

function encodeTime(ms: number): string {
  if (ms === lastMs) return lastTime;
  let time = "";
  let t = ms;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  lastMs = ms;
  lastTime = time;
  return time;
}

/** 80 random bits as 16 Crockford characters: two 40-bit halves, 8 characters each. */
function encodeRandom(): string {
  if (poolOffset === POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const o = poolOffset;
  poolOffset += RANDOM_BYTES;
  return encode40(pool, o) + encode40(pool, o + 5);
}

function encode40(b: Buffer, o: number): string {
  // 40 bits do not fit a 32-bit int: split as 8 high bits + 32 low bits and shift through a float.
  const hi = b[o] as number;
  const lo =
    (((b[o + 1] as number) << 24) |
      ((b[o + 2] as number) << 16) |
      ((b[o + 3] as number) << 8) |
      (b[o + 4] as number)) >>>
    0;
  const c0 = hi >>> 3;
  const c1 = ((hi & 7) << 2) | (lo >>> 30);
  // Indexes are 0..31 by construction; a template literal keeps the strict index types quiet at no cost.
  return `${CROCKFORD[c0]}${CROCKFORD[c1]}${CROCKFORD[(lo >>> 25) & 31]}${CROCKFORD[(lo >>> 20) & 31]}${CROCKFORD[(lo >>> 15) & 31]}${CROCKFORD[(lo >>> 10) & 31]}${CROCKFORD[(lo >>> 5) & 31]}${CROCKFORD[lo & 31]}`;
}

export function newId(prefix: IdPrefix, nowMs: number = Date.now()): string {
  return `${prefix}_${encodeTime(nowMs)}${encodeRandom()}`;
}

const ID_SHAPE = /^[a-z]{3}_[0-9A-HJKMNP-TV-Z]{26}$/;

export function isId(value: string, prefix: IdPrefix): boolean {
  return value.startsWith(`${prefix}_`) && ID_SHAPE.test(value);
}
