import { describe, expect, it } from "vitest";
import { compareDecimal, type Decimal, fromNumber, parseJsonNumber, parsePlainDecimal } from "./exact-decimal.js";

const j = (s: string) => parseJsonNumber(s) as Decimal;
const cmp = (a: string, b: string) => compareDecimal(j(a), j(b));

describe("exact decimals", () => {
  it("compares what JSON.parse cannot tell apart", () => {
    expect(JSON.parse("9007199254740993")).toBe(JSON.parse("9007199254740992"));
    expect(cmp("9007199254740993", "9007199254740992")).toBe(1);
    expect(cmp("5000.00000000000000001", "5000")).toBe(1);
    expect(cmp("4999.99999999999999999", "5000")).toBe(-1);
    expect(cmp("-5000.00000000000000001", "-5000")).toBe(-1);
  });

  it("different spellings of one value are equal", () => {
    for (const s of ["1000", "1e3", "1E3", "1e+3", "1000.000", "10000e-1", "0.1e4", "1000e0"])
      expect(cmp(s, "1000"), s).toBe(0);
    expect(cmp("-0", "0")).toBe(0);
    expect(cmp("0e999", "-0.0")).toBe(0);
  });

  it("orders signs, magnitudes and huge exponents without expanding them", () => {
    expect(cmp("-1", "0")).toBe(-1);
    expect(cmp("0", "-1e-999999999999")).toBe(1);
    expect(cmp("1e999999999999999999999", "1e9999999999")).toBe(0); // both clamped: beyond any body's length
    expect(cmp("1e999999999", "9".repeat(1000))).toBe(1);
    expect(cmp("1e-999999999", "0")).toBe(1);
    expect(cmp("0.5", "0.45")).toBe(1);
    expect(cmp("12", "1.2e1")).toBe(0);
  });

  it("accepts only its grammar", () => {
    for (const bad of ["", "+1", "01", "1.", ".5", "0x10", " 1", "1e", "NaN", "Infinity", "--1"]) {
      expect(parseJsonNumber(bad), bad).toBeNull();
    }
    for (const bad of ["5e3", "1E3", "+5", "05", "5.", "-"]) expect(parsePlainDecimal(bad), bad).toBeNull();
    expect(parsePlainDecimal("-1.50")).toEqual(j("-1.5"));
  });

  it("a constraint's double is read as its shortest round-trip decimal", () => {
    expect(fromNumber(0.1)).toEqual(j("0.1"));
    expect(fromNumber(5000)).toEqual(j("5000"));
    expect(fromNumber(1e21)).toEqual(j("1e21"));
    expect(fromNumber(-1.5e-7)).toEqual(j("-0.00000015"));
    expect(() => fromNumber(Number.NaN)).toThrow();
  });
});
