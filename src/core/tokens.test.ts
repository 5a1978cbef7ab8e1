import { hash as digest } from "node:crypto";
import { describe, expect, it } from "vitest";
import { base62 as b62, legacyNonceToken, retimedToken, withChecksum } from "../test/tokens.js";
import { ManualClock } from "./clock.js";
import { generateToken, hashToken, isWellFormed, TOKEN_KEY_LEN, tokenIssuedAt, tokenKey } from "./tokens.js";

const T0 = Date.UTC(2026, 0, 1);
const an = (now = T0) => generateToken("an", now);

describe("tokens", () => {
  it("have the documented shapes and a valid checksum", () => {
    const t = an();
    expect(t).toMatch(/^an_[0-9A-Za-z]{43}$/);
    expect(isWellFormed(t, "an")).toBe(true);
    const k = generateToken("ank");
    expect(k).toMatch(/^ank_[0-9A-Za-z]{36}$/);
    expect(isWellFormed(k, "ank")).toBe(true);
    expect(isWellFormed(t, "ank")).toBe(false);
    expect(isWellFormed(k, "an")).toBe(false);
  });

  it("carry the issuance ms in 7 base62 chars after the prefix (ManualClock)", () => {
    const clock = new ManualClock(T0);
    for (const step of [0, 1, 61, 62, 86_400_000, 50 * 365 * 86_400_000]) {
      clock.set(T0 + step);
      const t = generateToken("an", clock.now());
      expect(t.slice(3, 10)).toBe(b62(clock.now(), 7));
      expect(tokenIssuedAt(t)).toBe(clock.now());
    }
    expect(generateToken("an", 0).slice(3, 10)).toBe("0000000");
    expect(() => generateToken("an", 62 ** 7)).toThrow(RangeError);
    expect(() => generateToken("an", -1)).toThrow(RangeError);
    expect(() => generateToken("an", 1.5)).toThrow(RangeError);
  });

  it("are unique and carry at least 160 random bits (30 uniform base62 chars after the time)", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) seen.add(an());
    expect(seen.size).toBe(5000);
    const random = an().slice(10, -6);
    expect(random.length * Math.log2(62)).toBeGreaterThanOrEqual(160);
  });

  it("uses every base62 character roughly uniformly (no modulo bias)", () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 4000; i++) for (const c of an().slice(10, 40)) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(62);
    const expected = (4000 * 30) / 62;
    for (const n of counts.values()) expect(Math.abs(n - expected) / expected).toBeLessThan(0.15);
  });

  it("rejects garbage, wrong prefix and any single-character change, time chars included, without a lookup", () => {
    for (const t of [an(), generateToken("ank")]) {
      const prefix = t.startsWith("ank_") ? "ank" : "an";
      expect(isWellFormed(`${t}x`, prefix)).toBe(false);
      for (let i = prefix.length + 1; i < t.length; i++) {
        const c = t[i] === "a" ? "b" : "a";
        expect(isWellFormed(t.slice(0, i) + c + t.slice(i + 1), prefix)).toBe(false);
      }
    }
    expect(isWellFormed("an_short", "an")).toBe(false);
    expect(isWellFormed("", "an")).toBe(false);
    // Right length for neither format.
    expect(isWellFormed(withChecksum(`an_${"A".repeat(33)}`), "an")).toBe(false);
  });

  it("still accepts the previous nonce format and maps it to 6 zero bytes || SHA-256", () => {
    const old = legacyNonceToken();
    expect(old).toMatch(/^an_[0-9A-Za-z]{36}$/);
    expect(isWellFormed(old, "an")).toBe(true);
    expect(isWellFormed(`${old.slice(0, 10)}${old[10] === "a" ? "b" : "a"}${old.slice(11)}`, "an")).toBe(false);
    expect(tokenIssuedAt(old)).toBe(0);
    const key = tokenKey(old);
    expect(key.length).toBe(TOKEN_KEY_LEN);
    expect(key.subarray(0, 6).equals(Buffer.alloc(6))).toBe(true);
    expect(key.subarray(6).equals(digest("sha256", old, "buffer"))).toBe(true);
  });

  it("keys are 38 bytes: big-endian issuance ms, then SHA-256 of the whole token", () => {
    const t = an(T0 + 12_345);
    const key = tokenKey(t);
    expect(key.length).toBe(38);
    expect(key.readUIntBE(0, 6)).toBe(T0 + 12_345);
    expect(key.subarray(6).equals(digest("sha256", t, "buffer"))).toBe(true);
    expect(key.equals(tokenKey(t))).toBe(true);
    expect(key.equals(tokenKey(an(T0 + 12_345)))).toBe(false);
  });

  it("keys of tokens issued later sort after in byte order", () => {
    const clock = new ManualClock(T0);
    const keys: Buffer[] = [];
    for (let i = 0; i < 500; i++) {
      clock.advance(1 + (i % 7) * 997);
      keys.push(tokenKey(generateToken("an", clock.now())));
    }
    for (let i = 1; i < keys.length; i++) {
      expect(Buffer.compare(keys[i - 1] as Buffer, keys[i] as Buffer)).toBe(-1);
    }
    // The random part does not order them: only the time does.
    const sameMs = Array.from({ length: 50 }, () => tokenKey(an(T0)));
    const sorted = [...sameMs].sort(Buffer.compare);
    expect(sorted.map((k) => k.toString("hex"))).not.toEqual(sameMs.map((k) => k.toString("hex")));
  });

  it("a token whose time chars were altered (checksum recomputed) is well-formed but has another key", () => {
    const t = an(T0);
    const forged = retimedToken(t, T0 + 1);
    expect(isWellFormed(forged, "an")).toBe(true);
    expect(tokenIssuedAt(forged)).toBe(T0 + 1);
    expect(tokenKey(forged).subarray(6).equals(tokenKey(t).subarray(6))).toBe(false);
  });

  it("hashes API keys to fixed-length 32-byte SHA-256 digests, distinct per token", () => {
    const t = generateToken("ank");
    const h = hashToken(t);
    expect(h.length).toBe(32);
    expect(h.equals(hashToken(t))).toBe(true);
    expect(h.equals(hashToken(generateToken("ank")))).toBe(false);
  });
});
