import { createRequire } from "node:module";
import { AppError } from "./errors.js";

/**
 * `pattern` constraints run agent-controlled values through an issuer-written pattern inside the gateway
 * (SECURITY.md rule 12). V8's engine backtracks: even patterns without nested quantifiers, such as the common slug
 * `[a-z0-9]*-?[a-z0-9]*-?[a-z0-9]*`, take seconds on a 1,000-character value and block the event loop for every
 * agent. So patterns run on RE2 (Google's automaton-based engine, compiled to WebAssembly by `re2-wasm`), whose
 * matching time is linear in the input whatever the pattern.
 *
 * A pattern must be valid in both dialects: JavaScript's `u` syntax (what issuers write and what the docs describe;
 * its strict parser rejects sloppy escapes) and RE2's (what runs). A pattern that is not a valid JavaScript
 * expression is malformed input (400 `invalid_request`); one that is valid JavaScript but uses a construct RE2
 * cannot run in linear time — backreferences, lookaround — is refused with 422 `pattern_unsupported`. Both happen
 * when the nonce or policy is written, never at use. Patterns are matched against the WHOLE value; values longer
 * than MAX_PATTERN_INPUT characters never match (bounded input keeps a match in the microseconds).
 */

// re2-wasm is a CommonJS module whose named export ESM cannot see statically.
const { RE2 } = createRequire(import.meta.url)("re2-wasm") as {
  RE2: new (source: string, flags: string) => { test(value: string): boolean };
};

export const MAX_PATTERN_LENGTH = 200;
export const MAX_PATTERN_INPUT = 1024;

function refuse(code: "invalid_request" | "pattern_unsupported", pattern: string, why: string): never {
  throw new AppError(code, `pattern ${JSON.stringify(pattern)} ${why}`);
}

/** The name of the construct RE2 refused, from its message (`invalid perl operator: (?=` → lookaround). */
function unsupportedConstruct(pattern: string, message: string): string {
  if (/\\[1-9]|\\k</.test(pattern) || /escape sequence: \\[1-9k]/.test(message)) return "uses a backreference";
  if (/\(\?<?[=!]/.test(pattern)) return "uses a lookaround";
  return "uses a construct the linear-time pattern engine (RE2) cannot run";
}

function compile(pattern: string): { test(value: string): boolean } {
  if (pattern.length === 0) refuse("invalid_request", pattern, "must not be empty");
  if (pattern.length > MAX_PATTERN_LENGTH) {
    refuse("invalid_request", pattern, `is longer than ${MAX_PATTERN_LENGTH} characters`);
  }
  try {
    new RegExp(pattern, "u");
  } catch {
    refuse("invalid_request", pattern, "is not a valid regular expression");
  }
  try {
    // Anchored in a non-capturing group: `a|b` must not become `^a|b$`.
    return new RE2(`^(?:${pattern})$`, "u");
  } catch (e) {
    return refuse("pattern_unsupported", pattern, unsupportedConstruct(pattern, e instanceof Error ? e.message : ""));
  }
}

/** Throws unless `pattern` is valid JavaScript syntax that RE2 runs in linear time (see above for the codes). */
export function checkPatternSafety(pattern: string): void {
  compile(pattern);
}

/** Compiles a checked pattern to a full-value matcher running on RE2. */
export function compilePattern(pattern: string): (value: string) => boolean {
  const re = compile(pattern);
  return (value) => value.length <= MAX_PATTERN_INPUT && re.test(value);
}
