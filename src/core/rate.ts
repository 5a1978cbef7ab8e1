import { AppError } from "./errors.js";

/**
 * Per-nonce rate limits: `"<count>/<s|m|h>"`, e.g. `"60/m"`. Enforced as a GCRA (a token bucket of `count` tokens
 * refilled evenly over the period): up to `count` requests at once, then one every `period / count`. The store
 * runs `takeRate` in the same transaction as the use counter (Store.consumeNonce), so the limit holds across
 * replicas.
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

/**
 * The GCRA state of a nonce: the theoretical arrival time of its next request, exactly `ms + frac / count` epoch
 * ms (0 <= frac < count). `period / count` need not be a whole number of ms, and a float cannot hold the
 * remainder at epoch magnitudes (its resolution there is ~0.24 µs: a float GCRA admitted a burst of only 5 of
 * "6/s"), so the state is two integers and every comparison is exact.
 */
export interface RateTat {
  ms: number;
  frac: number;
}

export type RateDecision = { ok: true; tat: RateTat } | { ok: false; retryAfterMs: number };

/**
 * One request at `now` against the state `tat` (null: never used, a full bucket). Admitted when the arrival time
 * is at most `period - period / count` ahead of now, the state then moving on by `period / count`; otherwise how
 * long until a request would be admitted (and the state stays). Quantities are counted in 1/count ms: each is at
 * most period * count (3.6e6 * 1e9 < 2^53), so plain numbers stay exact.
 */
export function takeRate(rate: Rate, tat: RateTat | null, now: number): RateDecision {
  const { count, periodMs } = rate;
  // A state not after now is a full bucket: start from now.
  const from = tat !== null && tat.ms >= now ? tat : { ms: now, frac: 0 };
  const ahead = (from.ms - now) * count + from.frac;
  const tolerance = periodMs * (count - 1);
  if (ahead > tolerance) return { ok: false, retryAfterMs: (ahead - tolerance) / count };
  const frac = from.frac + (periodMs % count);
  return {
    ok: true,
    tat: { ms: from.ms + Math.floor(periodMs / count) + Math.floor(frac / count), frac: frac % count },
  };
}
