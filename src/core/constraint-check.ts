import type { FieldConstraint, FieldOps, ParsedConstraints, Scalar } from "./constraints.js";
import { parseConstraints } from "./constraints.js";
import { compilePattern } from "./safe-regex.js";
import { compileRoutes, type RouteMatcher } from "./scopes.js";

/**
 * Evaluation of request constraints (see constraints.ts for the shape). Compiled once per distinct constraints
 * object (the gateway caches checkers by their JSON). Every value a field takes must satisfy every operator:
 * a repeated query/form field, or a JSON array, is checked element by element. Anything that cannot be checked
 * (missing field, wrong type, object where a value was expected) fails: constraints fail closed.
 *
 * Values come in two kinds. JSON values keep their type: `min`/`max` need a JSON number, `pattern` a JSON
 * string. Query and form values are strings: `min`/`max`/`eq <number>` accept only a plain decimal written in
 * full (`"5000"`, `"-1.5"`; never `"5e3"`, `" 5000"`, `"0x10"`, `"05000"`), so that the number the gateway checks
 * is the number any upstream parser reads.
 */

export interface CompiledField {
  key: string;
  source: "body" | "query";
  /** Dotted path below the source (`metadata.order_id`): the key form values are collected under. */
  dotted: string;
  path: readonly string[];
  checks: Array<(v: unknown, text: boolean) => boolean>;
}

export interface AppliedConstraints {
  query: CompiledField[];
  body: CompiledField[];
}

export interface ConstraintChecker {
  /** The constraints that apply to a request on this route, or null when none do. */
  forRoute(method: string, segments: readonly string[]): AppliedConstraints | null;
}

/** Why a field failed; only `field` is ever reported (never the value). */
export interface ConstraintFailure {
  field: string;
}

const DECIMAL = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/;

function decimal(s: string): number | undefined {
  return s.length <= 40 && DECIMAL.test(s) ? Number(s) : undefined;
}

function scalarEquals(v: unknown, want: Scalar, text: boolean): boolean {
  if (!text) return v === want;
  if (typeof v !== "string") return false;
  if (typeof want === "string") return v === want;
  if (typeof want === "number") return decimal(v) === want;
  if (typeof want === "boolean") return v === String(want);
  return false;
}

function numeric(v: unknown, text: boolean): number | undefined {
  if (text) return typeof v === "string" ? decimal(v) : undefined;
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

function compileOps(ops: FieldOps): Array<(v: unknown, text: boolean) => boolean> {
  const checks: Array<(v: unknown, text: boolean) => boolean> = [];
  const { eq, in: among, min, max, pattern } = ops;
  if (eq !== undefined) checks.push((v, text) => scalarEquals(v, eq, text));
  if (among !== undefined) checks.push((v, text) => among.some((w) => scalarEquals(v, w, text)));
  if (min !== undefined) {
    checks.push((v, text) => {
      const n = numeric(v, text);
      return n !== undefined && n >= min;
    });
  }
  if (max !== undefined) {
    checks.push((v, text) => {
      const n = numeric(v, text);
      return n !== undefined && n <= max;
    });
  }
  if (pattern !== undefined) {
    const test = compilePattern(pattern);
    checks.push((v) => typeof v === "string" && test(v));
  }
  return checks;
}

function compileField(f: FieldConstraint): CompiledField {
  return { key: f.key, source: f.source, dotted: f.path.join("."), path: f.path, checks: f.ops.flatMap(compileOps) };
}

function split(fields: CompiledField[]): AppliedConstraints | null {
  if (fields.length === 0) return null;
  return { query: fields.filter((f) => f.source === "query"), body: fields.filter((f) => f.source === "body") };
}

/** Validates (throws `invalid_request`) and compiles. */
export function compileConstraints(raw: unknown): ConstraintChecker {
  const parsed: ParsedConstraints = parseConstraints(raw);
  const global = parsed.global.map(compileField);
  const always = split(global);
  if (parsed.scoped.length === 0) return { forRoute: () => always };
  const scoped: Array<{ matcher: RouteMatcher; fields: CompiledField[] }> = parsed.scoped.map((s) => ({
    matcher: compileRoutes([s.route]),
    fields: s.fields.map(compileField),
  }));
  return {
    forRoute(method, segments) {
      let fields: CompiledField[] | null = null;
      for (const s of scoped) {
        // HEAD is allowed wherever GET is (see the gateway's scope check), so GET-scoped constraints cover it too.
        if (s.matcher.match(method, segments) || (method === "HEAD" && s.matcher.match("GET", segments))) {
          fields ??= [...global];
          fields.push(...s.fields);
        }
      }
      return fields ? split(fields) : always;
    },
  };
}

function checkValues(f: CompiledField, values: readonly unknown[], text: boolean): ConstraintFailure | null {
  if (values.length === 0) return { field: f.key };
  for (const v of values) {
    for (const check of f.checks) if (!check(v, text)) return { field: f.key };
  }
  return null;
}

// query strings and form bodies --------------------------------------------------------------------------------

/**
 * `a[b][c]=1` → `a.b.c`, `a[]=1` → `a`, `a[0]=1` → `a.0` (Rack/Stripe nesting). Repeated keys keep every value.
 * A raw `;` (a separator to some older parsers) makes the string uncheckable: null.
 */
export function parseFormFields(s: string): Map<string, string[]> | null {
  if (s.includes(";")) return null;
  const out = new Map<string, string[]>();
  for (const [rawKey, value] of new URLSearchParams(s)) {
    const key = rawKey.replace(/\[\]$/, "").replace(/\[([^\]]*)\]/g, ".$1");
    const list = out.get(key);
    if (list) list.push(value);
    else out.set(key, [value]);
  }
  return out;
}

/** Checks text fields (query or form) against parsed fields; null when all hold. */
export function checkTextFields(
  fields: readonly CompiledField[],
  values: Map<string, string[]> | null,
): ConstraintFailure | null {
  for (const f of fields) {
    if (!values) return { field: f.key };
    const failure = checkValues(f, values.get(f.dotted) ?? [], true);
    if (failure) return failure;
  }
  return null;
}

// JSON bodies ----------------------------------------------------------------------------------------------------

/** Collects the values at `path`; an array met before the path ends fans out over its elements. */
function collect(node: unknown, path: readonly string[], i: number, out: unknown[]): boolean {
  if (i === path.length) {
    if (Array.isArray(node)) {
      for (const el of node) {
        if (typeof el === "object" && el !== null) return false;
        out.push(el);
      }
      return true;
    }
    if (typeof node === "object" && node !== null) return false;
    out.push(node);
    return true;
  }
  const seg = path[i] as string;
  if (Array.isArray(node)) {
    if (/^(0|[1-9][0-9]*)$/.test(seg)) return Number(seg) < node.length && collect(node[Number(seg)], path, i + 1, out);
    return node.length > 0 && node.every((el) => collect(el, path, i, out));
  }
  if (typeof node !== "object" || node === null || !Object.hasOwn(node, seg)) return false;
  return collect((node as Record<string, unknown>)[seg], path, i + 1, out);
}

export function checkJsonFields(fields: readonly CompiledField[], body: unknown): ConstraintFailure | null {
  for (const f of fields) {
    const values: unknown[] = [];
    if (!collect(body, f.path, 0, values)) return { field: f.key };
    const failure = checkValues(f, values, false);
    if (failure) return failure;
  }
  return null;
}

/**
 * True when some JSON object in `text` (already valid JSON) repeats a key. Parsers disagree on which duplicate
 * wins, so a body with one cannot be checked: what the gateway reads might not be what the upstream reads.
 */
export function hasDuplicateKeys(text: string): boolean {
  const stack: Array<Set<string> | null> = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      let escaped = false;
      while (text.charCodeAt(j) !== 0x22) {
        if (text.charCodeAt(j) === 0x5c /* \ */) {
          escaped = true;
          j += 2;
        } else j += 1;
      }
      const top = stack[stack.length - 1];
      if (expectKey && top) {
        // Escapes are decoded so `"\u0061"` and `"a"` are the same key.
        const key = escaped ? (JSON.parse(text.slice(i, j + 1)) as string) : text.slice(i + 1, j);
        if (top.has(key)) return true;
        top.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === 0x7b /* { */) {
      stack.push(new Set());
      expectKey = true;
    } else if (c === 0x5b /* [ */) {
      stack.push(null);
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      expectKey = stack[stack.length - 1] != null;
    }
  }
  return false;
}
