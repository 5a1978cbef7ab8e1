import { describe, expect, it } from "vitest";
import { globMatch } from "./glob.js";

describe("globMatch", () => {
  it("matches literals exactly and * as any run, including / and :", () => {
    expect(globMatch("repo:org/app:ref:refs/heads/main", "repo:org/app:ref:refs/heads/main")).toBe(true);
    expect(globMatch("repo:org/app:*", "repo:org/app:ref:refs/heads/main")).toBe(true);
    expect(globMatch("repo:org/*:environment:prod", "repo:org/app:environment:prod")).toBe(true);
    expect(globMatch("repo:org/*:environment:prod", "repo:org/app:environment:staging")).toBe(false);
    expect(globMatch("*", "")).toBe(true);
    expect(globMatch("a*", "")).toBe(false);
    expect(globMatch("system:serviceaccount:ci:*", "system:serviceaccount:ci:runner")).toBe(true);
    expect(globMatch("system:serviceaccount:ci:*", "system:serviceaccount:cix:runner")).toBe(false);
    expect(globMatch("abc", "abcd")).toBe(false);
    expect(globMatch("a*b*c", "axxbyyc")).toBe(true);
    expect(globMatch("a*b*c", "axxbyy")).toBe(false);
    expect(globMatch("?", "x")).toBe(false);
  });

  it("stays fast on patterns that make backtracking regexes explode", () => {
    const value = "a".repeat(5000);
    expect(globMatch(`${"a*".repeat(200)}b`, value)).toBe(false);
  });
});
