import { describe, expect, it } from "vitest";
import { parseDuration, resolveTtl } from "./ttl.js";

describe("ttl", () => {
  it.each([
    ["30s", 30_000],
    ["5m", 300_000],
    ["1h", 3_600_000],
    ["1h30m", 5_400_000],
    ["250ms", 250],
    [90, 90_000],
    ["90", 90_000],
  ] as const)("parses %s", (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each(["", "m", "5x", "-5m", "1.5h", "5m5", "abc", "0s", "5 m", 0, -1, 1.5, Number.NaN, "1e3"])(
    "rejects %j",
    (input) => {
      expect(() => parseDuration(input)).toThrow(/ttl must be/);
    },
  );

  it("applies default and bounds", () => {
    const b = { defaultMs: 300_000, minMs: 1000, maxMs: 3_600_000 };
    expect(resolveTtl(undefined, b)).toBe(300_000);
    expect(() => resolveTtl("2h", b)).toThrow(/at most 3600s/);
    expect(() => resolveTtl("500ms", b)).toThrow(/at least 1s/);
  });
});
