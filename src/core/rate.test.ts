import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Rate, type RateTat, takeRate } from "./rate.js";

/** The per-nonce GCRA (core/rate.ts takeRate), decided by the store in the consume's transaction. */

// An epoch-magnitude time: a float GCRA rounds at ~0.24 µs here, which is what the integer state avoids.
const T = Date.UTC(2026, 0, 1) + 123_457;

/** Requests at `times`, in order, from a full bucket: which were admitted. */
function run(rate: Rate, times: readonly number[]): boolean[] {
  let tat: RateTat | null = null;
  return times.map((now) => {
    const d = takeRate(rate, tat, now);
    if (d.ok) tat = d.tat;
    return d.ok;
  });
}

/** The definition, in exact rationals (BigInt, state scaled by count): the reference takeRate must equal. */
function reference(rate: Rate, times: readonly number[]): { ok: boolean; retryAfterMs: number }[] {
  const c = BigInt(rate.count);
  const p = BigInt(rate.periodMs);
  let scaled: bigint | null = null;
  return times.map((t) => {
    const now = BigInt(t) * c;
    const from = scaled !== null && scaled > now ? scaled : now;
    const ahead = from - now;
    const tolerance = p * (c - 1n);
    if (ahead > tolerance) return { ok: false, retryAfterMs: Number(ahead - tolerance) / rate.count };
    scaled = from + p;
    return { ok: true, retryAfterMs: 0 };
  });
}

describe("takeRate (GCRA)", () => {
  it("admits count at once, then one every period/count, and says how long to wait", () => {
    const rate = { count: 3, periodMs: 1_000 };
    let tat: RateTat | null = null;
    for (let i = 0; i < 3; i++) {
      const d = takeRate(rate, tat, T);
      expect(d.ok).toBe(true);
      if (d.ok) tat = d.tat;
    }
    const over = takeRate(rate, tat, T);
    expect(over.ok).toBe(false);
    if (!over.ok) expect(over.retryAfterMs).toBeCloseTo(1000 / 3, 9);
    expect(takeRate(rate, tat, T + 333).ok).toBe(false);
    expect(takeRate(rate, tat, T + 334).ok).toBe(true);
    // A state in the past is a full bucket again.
    expect(takeRate(rate, tat, T + 1_000)).toEqual({ ok: true, tat: { ms: T + 1_333, frac: 1 } });
  });

  it("admits exactly count at once for every count up to 2,000 per s, m and h (a float state lost the last)", () => {
    const wrong: string[] = [];
    for (const periodMs of [1_000, 60_000, 3_600_000]) {
      for (let count = 1; count <= 2_000; count++) {
        const admitted = run({ count, periodMs }, Array(count + 1).fill(T)).filter(Boolean).length;
        if (admitted !== count) wrong.push(`${count}/${periodMs}ms: ${admitted}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("equals the exact rational GCRA on any rate and any request times", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 999_999_999 }),
        fc.constantFrom(1_000, 60_000, 3_600_000),
        fc.array(fc.integer({ min: 0, max: 5_000 }), { maxLength: 60 }),
        (count, periodMs, gaps) => {
          const rate = { count, periodMs };
          let now = T;
          const times = gaps.map((g) => {
            now += g % 7 === 0 ? 0 : g; // many at the same ms: bursts
            return now;
          });
          let tat: RateTat | null = null;
          const got = times.map((t) => {
            const d = takeRate(rate, tat, t);
            if (!d.ok) return { ok: false, retryAfterMs: d.retryAfterMs };
            expect(d.tat.frac).toBeGreaterThanOrEqual(0);
            expect(d.tat.frac).toBeLessThan(count);
            tat = d.tat;
            return { ok: true, retryAfterMs: 0 };
          });
          expect(got).toEqual(reference(rate, times));
        },
      ),
      { numRuns: 500 },
    );
  });
});
