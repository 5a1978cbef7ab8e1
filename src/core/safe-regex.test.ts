import { existsSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { AppError } from "./errors.js";
import { checkPatternSafety, compilePattern, MAX_PATTERN_INPUT } from "./safe-regex.js";

function refusal(p: string): AppError {
  try {
    checkPatternSafety(p);
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  throw new Error(`pattern ${p} was accepted`);
}

const BUILT = new URL("../../dist/core/safe-regex.js", import.meta.url);

/**
 * Runs a match of the built module in a worker thread, so that a backtracking engine (the bug this guards against)
 * fails the test instead of hanging the test process: a linear-time engine answers in microseconds, V8's would need
 * hours for these inputs. The deadline is a liveness bound (hung or not), not a performance measurement.
 */
function matchInWorker(pattern: string, value: string): Promise<boolean | "hung"> {
  if (!existsSync(BUILT)) throw new Error("dist/ is missing: run `npm run build` first");
  const src = `
    const { parentPort, workerData } = require("node:worker_threads");
    import(workerData.url).then((m) => parentPort.postMessage(m.compilePattern(workerData.pattern)(workerData.value)));
  `;
  return new Promise((resolve, reject) => {
    const w = new Worker(src, { eval: true, workerData: { url: BUILT.href, pattern, value } });
    const timer = setTimeout(() => {
      void w.terminate();
      resolve("hung");
    }, 20_000);
    w.once("message", (v: boolean) => {
      clearTimeout(timer);
      void w.terminate();
      resolve(v);
    });
    w.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

describe("constraint patterns on RE2 (SECURITY.md rule 12)", () => {
  it.each([
    // Each backtracks exponentially or polynomially on V8; RE2 runs them in linear time, so they are accepted.
    ["(a+)+", `${"a".repeat(MAX_PATTERN_INPUT - 1)}!`],
    ["(a|aa)+", `${"a".repeat(MAX_PATTERN_INPUT - 1)}!`],
    ["[a-z0-9]*-?[a-z0-9]*-?[a-z0-9]*", `${"a".repeat(MAX_PATTERN_INPUT - 1)}!`],
    ["(.*a){12}", `${"a".repeat(MAX_PATTERN_INPUT - 1)}!`],
  ])("accepts the pathological pattern %s and answers a hostile value without hanging", async (p, value) => {
    expect(() => checkPatternSafety(p)).not.toThrow();
    expect(await matchInWorker(p, value)).toBe(false);
    expect(await matchInWorker(p, "a".repeat(64))).toBe(true);
  });

  it.each([
    ["(a)\\1", /backreference/],
    ["(?<n>a)\\k<n>", /backreference/],
    ["(?=a)a", /lookaround/],
    ["(?!a)b", /lookaround/],
    ["(?<=a)b", /lookaround/],
    ["(?<!a)b", /lookaround/],
  ])("refuses %s with 422 pattern_unsupported", (p, why) => {
    const e = refusal(p);
    expect(e.code).toBe("pattern_unsupported");
    expect(e.status).toBe(422);
    expect(e.message).toMatch(why);
  });

  it.each(["", "a".repeat(201), "ord_(", "\\q", "a{", "(?i)abc", "a{1001}"])(
    "refuses malformed %j with 400 invalid_request",
    (p) => {
      const e = refusal(p);
      expect(e.status).toBe(p === "a{1001}" ? 422 : 400);
      expect(e.message).toMatch(/pattern/);
    },
  );

  it.each([
    ["ord_[0-9]+", "ord_42", "ord_"],
    ["[a-z]{2,3}", "abc", "abcd"],
    ["(usd|eur)", "eur", "gbp"],
    ["(?:cus|acct)_[A-Za-z0-9]{14,}", "cus_ABCDEFGHIJKLMN", "cus_short"],
    ["\\u{1F600}+", "😀😀", "x"],
    ["\\p{L}+", "héllo", "h3llo"],
    ["[(+*)]+", "(+*)", "a"],
    ["\\d{3}-\\d{4}", "555-1234", "555-12345"],
  ])("%s matches the whole value with JavaScript's meaning", (p, yes, no) => {
    const m = compilePattern(p);
    expect(m(yes)).toBe(true);
    expect(m(no)).toBe(false);
  });

  it("a pattern cannot escape the whole-value anchoring, and long values never match", () => {
    expect(refusal("a)|(b").code).toBe("invalid_request");
    const m = compilePattern("a|b");
    expect(m("a")).toBe(true);
    expect(m("ab")).toBe(false);
    expect(m("xb")).toBe(false);
    expect(compilePattern(".*")("x".repeat(MAX_PATTERN_INPUT))).toBe(true);
    expect(compilePattern(".*")("x".repeat(MAX_PATTERN_INPUT + 1))).toBe(false);
  });
});
