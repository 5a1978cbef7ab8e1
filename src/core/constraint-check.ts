import type { FieldConstraint, FieldOps, ParsedConstraints, Scalar } from "./constraints.js";
import { parseConstraints } from "./constraints.js";
import { compareDecimal, type Decimal, fromNumber, parseJsonNumber, parsePlainDecimal } from "./exact-decimal.js";
import { JsonNumber } from "./json-tree.js";
import type { FieldSource } from "./request-fields.js";
import { compilePattern } from "./safe-regex.js";
import { compileRoutes, type RouteMatcher, routeAllows } from "./scopes.js";

/**
 * Evaluation of request constraints (see constraints.ts for the shape). Compiled once per distinct constraints
 * object (the gateway caches checkers by their JSON). Every value a field takes must satisfy every operator:
 * a repeated query/form field, or a JSON array, is checked element by element. Anything that cannot be checked
 * (missing field, wrong type, object where a value was expected, a spelling some upstream reads as the same
 * field) fails: constraints fail closed.
 *
 * A field is checked in every place an upstream may read it (SECURITY.md rule 11): `body.amount` must be in the
 * body and, if the query also carries `amount`, every query value must satisfy it too (Rails merges query over
 * body, Laravel body over query); likewise `query.limit` in a body. See request-fields.ts for what counts as the
 * same field.
 *
 * Values come in two kinds. JSON values keep their type: `min`/`max` need a JSON number, `pattern` a JSON
 * string. Query and form values are strings: `min`/`max`/`eq <number>` accept only a plain decimal written in
 * full (`"5000"`, `"-1.5"`; never `"5e3"`, `" 5000"`, `"0x10"`, `"05000"`). Numbers are compared exactly, as
 * decimals (exact-decimal.ts): the literal `9007199254740993` is not 9007199254740992, and
 * `5000.00000000000000001` is over `max: 5000`.
 */

export interface CompiledField {
  key: string;
  source: "body" | "query";
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
  /** Some constraint is scoped to a route: which ones apply depends on the method (a `_method` override matters). */
  readonly methodScoped: boolean;
}

/** Why a field failed; only `field` is ever reported (never the value). */
export interface ConstraintFailure {
  field: string;
}

/** Query/form text is a number only as a plain decimal of at most 40 characters. */
function textNumber(s: string): Decimal | null {
  return s.length <= 40 ? parsePlainDecimal(s) : null;
}

/** The exact decimal of a value, or null when it is not a number of its kind. */
function numeric(v: unknown, text: boolean): Decimal | null {
  if (text) return typeof v === "string" ? textNumber(v) : null;
  return v instanceof JsonNumber ? parseJsonNumber(v.literal) : null;
}

function scalarTest(want: Scalar): (v: unknown, text: boolean) => boolean {
  if (typeof want === "number") {
    const d = fromNumber(want);
    return (v, text) => {
      const n = numeric(v, text);
      return n !== null && compareDecimal(n, d) === 0;
    };
  }
  if (typeof want === "boolean") return (v, text) => (text ? v === String(want) : v === want);
  if (want === null) return (v, text) => !text && v === null;
  return (v) => v === want;
}

function bound(limit: number, ok: (cmp: number) => boolean): (v: unknown, text: boolean) => boolean {
  const d = fromNumber(limit);
  return (v, text) => {
    const n = numeric(v, text);
    return n !== null && ok(compareDecimal(n, d));
  };
}

function compileOps(ops: FieldOps): Array<(v: unknown, text: boolean) => boolean> {
  const checks: Array<(v: unknown, text: boolean) => boolean> = [];
  const { eq, in: among, min, max, pattern } = ops;
  if (eq !== undefined) checks.push(scalarTest(eq));
  if (among !== undefined) {
    const tests = among.map(scalarTest);
    checks.push((v, text) => tests.some((t) => t(v, text)));
  }
  if (min !== undefined) checks.push(bound(min, (c) => c >= 0));
  if (max !== undefined) checks.push(bound(max, (c) => c <= 0));
  if (pattern !== undefined) {
    const test = compilePattern(pattern);
    checks.push((v) => typeof v === "string" && test(v));
  }
  return checks;
}

function compileField(f: FieldConstraint): CompiledField {
  return { key: f.key, source: f.source, path: f.path, checks: f.ops.flatMap(compileOps) };
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
  if (parsed.scoped.length === 0) return { forRoute: () => always, methodScoped: false };
  const scoped: Array<{ matcher: RouteMatcher; fields: CompiledField[] }> = parsed.scoped.map((s) => ({
    matcher: compileRoutes([s.route]),
    fields: s.fields.map(compileField),
  }));
  return {
    methodScoped: true,
    forRoute(method, segments) {
      let fields: CompiledField[] | null = null;
      for (const s of scoped) {
        // HEAD is allowed wherever GET is (routeAllows), so GET-scoped constraints cover it too.
        if (routeAllows(s.matcher, method, segments)) {
          fields ??= [...global];
          fields.push(...s.fields);
        }
      }
      return fields ? split(fields) : always;
    },
  };
}

/**
 * Checks one source. `own` fields belong to it (they must be present, every value must pass); `other` fields
 * belong to the other source, and are checked here only where this source carries them too.
 */
export function checkSource(
  source: FieldSource | null,
  own: readonly CompiledField[],
  other: readonly CompiledField[],
): ConstraintFailure | null {
  for (const f of own) {
    if (!source) return { field: f.key };
    const r = source.lookup(f.path);
    if (r.refused || r.absent || !allPass(f, r.values, source.text)) return { field: f.key };
  }
  if (!source) return null;
  for (const f of other) {
    const r = source.lookup(f.path);
    if (r.refused || !allPass(f, r.values, source.text)) return { field: f.key };
  }
  return null;
}

function allPass(f: CompiledField, values: readonly unknown[], text: boolean): boolean {
  for (const v of values) {
    for (const check of f.checks) if (!check(v, text)) return false;
  }
  return true;
}
