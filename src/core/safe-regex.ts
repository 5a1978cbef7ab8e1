import { AppError } from "./errors.js";

/**
 * `pattern` constraints run agent-controlled values through an issuer-written RegExp inside the gateway, so a
 * pattern must not be able to backtrack catastrophically. V8's engine backtracks; rather than ship RE2, a pattern
 * is accepted only when it avoids the constructs that make backtracking explode:
 * - no repeated group (`*`, `+`, `{n,}`, `{n,m}` with m > 1) that itself contains a quantifier or an alternation
 *   (`(a+)+`, `(a|aa)*`, `((ab)*c)+`): the classic exponential cases;
 * - no backreferences (`\1`, `\k<name>`) and no lookaround (`(?=`, `(?!`, `(?<=`, `(?<!`);
 * - at most 200 characters, compiled with the `u` flag (strict syntax), and matched against the WHOLE value.
 * Values longer than MAX_PATTERN_INPUT characters never match, which bounds the remaining polynomial cases
 * (`a*a*b` is quadratic).
 */

export const MAX_PATTERN_LENGTH = 200;
export const MAX_PATTERN_INPUT = 1024;

interface Frame {
  /** The group contains a quantifier (at any depth) or an alternation. */
  risky: boolean;
}

function invalid(pattern: string, why: string): never {
  throw new AppError("invalid_request", `pattern ${JSON.stringify(pattern)} ${why}`);
}

/** Length of a quantifier starting at `i`, or 0. `repeats` is false for `?`, `{0,1}`, `{1}` (at most once). */
function quantifierAt(p: string, i: number): { len: number; repeats: boolean } {
  const c = p[i];
  let len = 0;
  let repeats = true;
  if (c === "*" || c === "+") len = 1;
  else if (c === "?") {
    len = 1;
    repeats = false;
  } else if (c === "{") {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(p.slice(i));
    if (!m) return { len: 0, repeats: false };
    len = m[0].length;
    const max = m[2] === undefined ? Number(m[1]) : m[3] === "" ? Number.POSITIVE_INFINITY : Number(m[3]);
    repeats = max > 1;
  }
  if (len > 0 && p[i + len] === "?") len += 1; // lazy
  return { len, repeats };
}

/** Throws `invalid_request` unless `pattern` is a valid, backtracking-safe RegExp source. */
export function checkPatternSafety(pattern: string): void {
  if (pattern.length === 0) invalid(pattern, "must not be empty");
  if (pattern.length > MAX_PATTERN_LENGTH) invalid(pattern, `is longer than ${MAX_PATTERN_LENGTH} characters`);
  try {
    new RegExp(pattern, "u");
  } catch {
    invalid(pattern, "is not a valid regular expression");
  }
  const stack: Frame[] = [{ risky: false }];
  const top = () => stack[stack.length - 1] as Frame;
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i] as string;
    let atomEnd = i + 1;
    let closed: Frame | null = null;
    if (c === "\\") {
      const next = pattern[i + 1] ?? "";
      if (/[1-9]/.test(next) || next === "k") invalid(pattern, "uses a backreference");
      atomEnd = i + 2;
      // \u{…}, \uXXXX, \xXX, \p{…}: skip the whole escape so its braces are not read as a quantifier.
      const long = /^\\(u\{[0-9A-Fa-f]+\}|u[0-9A-Fa-f]{4}|x[0-9A-Fa-f]{2}|[pP]\{[^}]*\}|c[A-Za-z])/.exec(
        pattern.slice(i),
      );
      if (long) atomEnd = i + long[0].length;
    } else if (c === "[") {
      let j = i + 1;
      while (j < pattern.length && pattern[j] !== "]") j += pattern[j] === "\\" ? 2 : 1;
      atomEnd = j + 1;
    } else if (c === "(") {
      if (/^\(\?(=|!|<=|<!)/.test(pattern.slice(i))) invalid(pattern, "uses a lookaround");
      stack.push({ risky: false });
      const named = /^\(\?(:|<[A-Za-z_][A-Za-z0-9_]*>)/.exec(pattern.slice(i));
      i += named ? named[0].length : 1;
      continue;
    } else if (c === ")") {
      closed = stack.pop() ?? null;
    } else if (c === "|") {
      top().risky = true;
      i += 1;
      continue;
    }
    const q = quantifierAt(pattern, atomEnd);
    if (q.len > 0) {
      if (closed?.risky && q.repeats) {
        invalid(pattern, "repeats a group that contains a quantifier or an alternation (catastrophic backtracking)");
      }
      top().risky = true;
    } else if (closed?.risky) {
      top().risky = true;
    }
    i = atomEnd + q.len;
  }
}

/** Compiles a checked pattern to a full-value matcher. */
export function compilePattern(pattern: string): (value: string) => boolean {
  checkPatternSafety(pattern);
  const re = new RegExp(`^(?:${pattern})$`, "u");
  return (value) => value.length <= MAX_PATTERN_INPUT && re.test(value);
}
