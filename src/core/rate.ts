import { AppError } from "./errors.js";

/**
 * Per-nonce rate limits: `"<count>/<s|m|h>"`, e.g. `"60/m"`. Enforced by the gateway as a GCRA (a token bucket
 * of `count` tokens refilled evenly over the period): up to `count` requests at once, then one every
 * `period / count`.
 */

export interface Rate {
  count: number;
  periodMs: number;
}

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000 };
export const RATE_PATTERN = /^([1-9][0-9]{0,8})\/([smh])$/;

export function parseRate(text: string, field = "rate"): Rate {
  const m = RATE_PATTERN.exec(text);
  if (!m) throw new AppError("invalid_request", `${field} must look like "60/m" (a count ≥ 1 per s, m or h)`);
  return { count: Number(m[1]), periodMs: UNIT_MS[m[2] as string] as number };
}

/**
 * True when `rate` admits, in every window, no more requests than `limit`: its burst (count) is no larger and
 * its sustained rate (count per period) no higher. `100/h` is therefore NOT within `60/m`: it allows a burst
 * of 100.
 */
export function rateWithin(rate: Rate, limit: Rate): boolean {
  return rate.count <= limit.count && rate.count * limit.periodMs <= limit.count * rate.periodMs;
}
