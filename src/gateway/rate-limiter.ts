import type { Rate } from "../core/rate.js";

/**
 * Per-nonce rate limits, in process (each gateway replica enforces a nonce's rate on its own). GCRA: one number
 * per nonce, the theoretical arrival time `tat` of the next request; a request at `now` is admitted when
 * `tat - now <= periodMs - periodMs / count`, i.e. up to `count` at once, then one every `periodMs / count`.
 *
 * Memory stays bounded: an entry whose `tat` has passed is exactly equivalent to no entry (a full bucket), and
 * an entry of an expired nonce is never needed again, so sweeps drop both. Sweeps run every SWEEP_EVERY_MS of
 * clock time, or sooner (at most once a second) when the map grows past SWEEP_SIZE.
 */

const SWEEP_EVERY_MS = 10_000;
const SWEEP_SIZE = 50_000;
// Floating point: periodMs / count need not be an integer; never deny by a rounding error.
const EPSILON = 1e-6;

interface Entry {
  tat: number;
  expiresAt: number;
}

export class RateLimiter {
  private readonly entries = new Map<string, Entry>();
  private lastSweep = Number.NEGATIVE_INFINITY;

  /**
   * Admits and records one request of nonce `id` at `now`, returning 0; or returns how many milliseconds until
   * one would be admitted (nothing recorded).
   */
  take(id: string, rate: Rate, expiresAt: number, now: number): number {
    this.maybeSweep(now);
    const interval = rate.periodMs / rate.count;
    const tolerance = rate.periodMs - interval;
    const e = this.entries.get(id);
    const tat = e !== undefined && e.tat > now ? e.tat : now;
    const ahead = tat - now;
    if (ahead > tolerance + EPSILON) return ahead - tolerance;
    if (e) e.tat = tat + interval;
    else this.entries.set(id, { tat: tat + interval, expiresAt });
    return 0;
  }

  get size(): number {
    return this.entries.size;
  }

  private maybeSweep(now: number): void {
    const since = now - this.lastSweep;
    if (since < SWEEP_EVERY_MS && !(this.entries.size > SWEEP_SIZE && since >= 1_000)) return;
    this.lastSweep = now;
    for (const [id, e] of this.entries) {
      if (e.tat <= now || e.expiresAt <= now) this.entries.delete(id);
    }
  }
}
