import { describe, expect, it } from "vitest";
import { generateToken, hashToken, isWellFormed } from "./tokens.js";

describe("tokens", () => {
  it("have the documented shape and a valid checksum", () => {
    for (const prefix of ["an", "ank"] as const) {
      const t = generateToken(prefix);
      expect(t).toMatch(new RegExp(`^${prefix}_[0-9A-Za-z]{36}$`));
      expect(isWellFormed(t, prefix)).toBe(true);
    }
  });

  it("are unique and carry at least 160 bits (30 uniform base62 chars)", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) seen.add(generateToken("an"));
    expect(seen.size).toBe(5000);
    const body = generateToken("an").slice("an_".length, -6);
    expect(body.length * Math.log2(62)).toBeGreaterThanOrEqual(160);
  });

  it("uses every base62 character roughly uniformly (no modulo bias)", () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 4000; i++)
      for (const c of generateToken("an").slice(3, 33)) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(62);
    const expected = (4000 * 30) / 62;
    for (const n of counts.values()) expect(Math.abs(n - expected) / expected).toBeLessThan(0.15);
  });

  it("rejects garbage, wrong prefix and any single-character change without a lookup", () => {
    const t = generateToken("an");
    expect(isWellFormed(t, "ank")).toBe(false);
    expect(isWellFormed(`${t}x`, "an")).toBe(false);
    expect(isWellFormed("an_short", "an")).toBe(false);
    expect(isWellFormed("", "an")).toBe(false);
    for (let i = 3; i < t.length; i++) {
      const c = t[i] === "a" ? "b" : "a";
      expect(isWellFormed(t.slice(0, i) + c + t.slice(i + 1), "an")).toBe(false);
    }
  });

  it("hashes to fixed-length 32-byte SHA-256 digests, distinct per token", () => {
    const t = generateToken("an");
    const h = hashToken(t);
    expect(h.length).toBe(32);
    expect(h.equals(hashToken(t))).toBe(true);
    expect(h.equals(hashToken(generateToken("an")))).toBe(false);
  });
});
