import { describe, expect, it } from "vitest";
import { isId, newId } from "./ids.js";

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

function decodeTime(id: string): number {
  let t = 0;
  for (const c of id.slice(4, 14)) t = t * 32 + CROCKFORD.indexOf(c);
  return t;
}

describe("newId", () => {
  it("has the prefix, 26 Crockford characters and the timestamp it was given", () => {
    const now = 1_764_000_000_123;
    const id = newId("evt", now);
    expect(id).toMatch(/^evt_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(isId(id, "evt")).toBe(true);
    expect(isId(id, "nce")).toBe(false);
    expect(decodeTime(id)).toBe(now);
    expect(decodeTime(newId("req", 0))).toBe(0);
    expect(decodeTime(newId("req", 2 ** 48 - 1))).toBe(2 ** 48 - 1);
  });

  it("sorts by time across milliseconds, including after the time cache was used", () => {
    const ids: string[] = [];
    for (let t = 1_000; t < 1_200; t++) for (let k = 0; k < 3; k++) ids.push(newId("nce", t));
    expect([...ids].sort()).toEqual(
      ids.map((x) => x).sort((a, b) => decodeTime(a) - decodeTime(b) || (a < b ? -1 : 1)),
    );
    for (let i = 1; i < ids.length; i++)
      expect(decodeTime(ids[i] as string)).toBeGreaterThanOrEqual(decodeTime(ids[i - 1] as string));
    expect(decodeTime(newId("nce", 5))).toBe(5);
    expect(decodeTime(newId("nce", 1_199))).toBe(1_199);
  });

  it("never repeats across many pool refills and uses every character in the random part", () => {
    const seen = new Set<string>();
    const counts = new Map<string, number>();
    const n = 20_000; // ~50 refills of the pool
    for (let i = 0; i < n; i++) {
      const id = newId("req", 42);
      seen.add(id);
      for (const c of id.slice(14)) counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    expect(seen.size).toBe(n);
    expect(counts.size).toBe(32);
    // 16 characters × n ids spread over 32 symbols: each near n/2; a broken bit split would skew some of them.
    for (const c of counts.values()) expect(Math.abs(c - n / 2)).toBeLessThan(n / 10);
  });
});
