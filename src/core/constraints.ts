import { AppError } from "./errors.js";
import { checkPatternSafety } from "./safe-regex.js";
import { isRoutePattern, parseRoute } from "./scopes.js";

/**
 * Request constraints carried by a nonce: they narrow query and body fields of the requests its scopes allow.
 *
 *   { "body.amount": {"max": 5000},                          // every request
 *     "POST /v1/refunds": {"body.metadata.order_id": {"pattern": "ord_[0-9]+"}} }  // only requests on that route
 *
 * A key is a field path (`body.` or `query.` then dot-separated segments) mapping to operators, or a route
 * pattern (as in scopes) mapping to a map of such field paths. Operators: `eq`, `in` (JSON scalars), `min`, `max`
 * (numbers; all numbers are compared exactly as decimals), `pattern` (a RegExp matched against the whole value,
 * see safe-regex.ts). A field may map to a list of operator objects, all of which must hold: that is how an
 * issuer policy's constraints are AND-merged into a nonce's (see mergeConstraints). This file validates and
 * merges; constraint-check.ts evaluates.
 */

export type Scalar = string | number | boolean | null;

export interface FieldOps {
  eq?: Scalar;
  in?: Scalar[];
  min?: number;
  max?: number;
  pattern?: string;
}

export type FieldRule = FieldOps | FieldOps[];
export type Constraints = Record<string, FieldRule | Record<string, FieldRule>>;

export interface FieldConstraint {
  /** The path as written, e.g. `body.metadata.order_id` (what an audit event names). */
  key: string;
  source: "body" | "query";
  /** Segments after the source: `["metadata", "order_id"]`. */
  path: string[];
  ops: FieldOps[];
}

export interface ParsedConstraints {
  /** Apply to every request. */
  global: FieldConstraint[];
  /** Apply only to requests matching `route`. */
  scoped: Array<{ route: string; fields: FieldConstraint[] }>;
}

const OPERATORS: ReadonlySet<string> = new Set(["eq", "in", "min", "max", "pattern"]);
const SEGMENT = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_DEPTH = 8;
const MAX_KEYS = 64;
const MAX_IN = 100;

function bad(message: string): never {
  throw new AppError("invalid_request", `constraints: ${message}`);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isScalar(v: unknown): v is Scalar {
  return v === null || typeof v === "string" || typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v));
}

export function isFieldPath(key: string): boolean {
  return key.startsWith("body.") || key.startsWith("query.");
}

function parseFieldPath(key: string): { source: "body" | "query"; path: string[] } {
  const [source, ...path] = key.split(".");
  if ((source !== "body" && source !== "query") || path.length === 0) {
    bad(`${JSON.stringify(key)} must start with "body." or "query."`);
  }
  if (path.length > MAX_DEPTH) bad(`${JSON.stringify(key)} is nested deeper than ${MAX_DEPTH} levels`);
  for (const seg of path) {
    if (!SEGMENT.test(seg)) bad(`${JSON.stringify(key)}: path segments are 1-64 characters of A-Z a-z 0-9 _ -`);
  }
  return { source, path };
}

/**
 * `eq`/`in` compare exactly (constraint-check.ts), so their numbers must be exactly what the issuer wrote. An
 * integer beyond ±(2^53-1) was already rounded when the request's JSON was parsed (9007199254740993 arrives as
 * 9007199254740992), so it is refused rather than silently replaced by its neighbour.
 */
function exactOrBad(key: string, op: string, v: unknown): void {
  if (typeof v === "number" && Number.isInteger(v) && !Number.isSafeInteger(v)) {
    bad(`${op} for ${JSON.stringify(key)}: integers beyond ±9007199254740991 cannot be matched exactly; use a string`);
  }
}

function parseOps(key: string, raw: unknown): FieldOps {
  if (!isPlainObject(raw)) bad(`${JSON.stringify(key)} must map to an object of operators`);
  const names = Object.keys(raw);
  if (names.length === 0) bad(`${JSON.stringify(key)} names no operator`);
  for (const name of names) {
    if (!OPERATORS.has(name)) bad(`unknown operator ${JSON.stringify(name)} for ${JSON.stringify(key)}`);
  }
  const ops: FieldOps = {};
  if ("eq" in raw) {
    if (!isScalar(raw.eq)) bad(`eq for ${JSON.stringify(key)} must be a string, number, boolean or null`);
    exactOrBad(key, "eq", raw.eq);
    ops.eq = raw.eq;
  }
  if ("in" in raw) {
    const list = raw.in;
    if (!Array.isArray(list) || list.length === 0 || list.length > MAX_IN || !list.every(isScalar)) {
      bad(`in for ${JSON.stringify(key)} must be a list of 1-${MAX_IN} strings, numbers, booleans or nulls`);
    }
    for (const v of list) exactOrBad(key, "in", v);
    ops.in = list as Scalar[];
  }
  for (const op of ["min", "max"] as const) {
    if (op in raw) {
      const v = raw[op];
      if (typeof v !== "number" || !Number.isFinite(v)) bad(`${op} for ${JSON.stringify(key)} must be a number`);
      ops[op] = v;
    }
  }
  if (ops.min !== undefined && ops.max !== undefined && ops.min > ops.max) {
    bad(`min is greater than max for ${JSON.stringify(key)}`);
  }
  if ("pattern" in raw) {
    if (typeof raw.pattern !== "string") bad(`pattern for ${JSON.stringify(key)} must be a string`);
    checkPatternSafety(raw.pattern);
    ops.pattern = raw.pattern;
  }
  return ops;
}

function parseField(key: string, raw: unknown): FieldConstraint {
  const { source, path } = parseFieldPath(key);
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) bad(`${JSON.stringify(key)} maps to an empty list`);
  return { key, source, path, ops: list.map((r) => parseOps(key, r)) };
}

function parseFieldMap(route: string, raw: unknown): FieldConstraint[] {
  if (!isPlainObject(raw)) bad(`route ${JSON.stringify(route)} must map to an object of field paths`);
  const keys = Object.keys(raw);
  if (keys.length === 0) bad(`route ${JSON.stringify(route)} constrains no field`);
  if (keys.length > MAX_KEYS) bad(`route ${JSON.stringify(route)} has more than ${MAX_KEYS} fields`);
  return keys.map((k) => parseField(k, raw[k]));
}

/** Validates a constraints object; throws `invalid_request` naming the offending key. */
export function parseConstraints(raw: unknown): ParsedConstraints {
  if (!isPlainObject(raw)) bad("must be an object");
  const keys = Object.keys(raw);
  if (keys.length > MAX_KEYS) bad(`has more than ${MAX_KEYS} keys`);
  const out: ParsedConstraints = { global: [], scoped: [] };
  for (const key of keys) {
    if (isFieldPath(key)) {
      out.global.push(parseField(key, raw[key]));
    } else if (isRoutePattern(key)) {
      try {
        parseRoute(key);
      } catch (e) {
        bad(e instanceof Error ? e.message : `invalid route ${JSON.stringify(key)}`);
      }
      out.scoped.push({ route: key, fields: parseFieldMap(key, raw[key]) });
    } else {
      bad(
        `key ${JSON.stringify(key)} must be a field path ("body.amount", "query.limit") or a route ("POST /v1/refunds")`,
      );
    }
  }
  return out;
}

function asList(rule: unknown): unknown[] {
  return Array.isArray(rule) ? rule : [rule];
}

function mergeFields(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [field, rule] of Object.entries(b)) {
    out[field] = Object.hasOwn(out, field) ? [...asList(out[field]), ...asList(rule)] : rule;
  }
  return out;
}

/**
 * AND-merges `required` (an issuer policy rule's constraints) into `own` (the nonce's): every constraint of both
 * holds on the result. The same field under the same key gets both operator objects as a list; the same route
 * key gets its field maps merged the same way. Both inputs must already be valid.
 */
export function mergeConstraints(
  own: Record<string, unknown> | null,
  required: Record<string, unknown> | null,
): Record<string, unknown> | null {
  if (!required || Object.keys(required).length === 0) return own;
  if (!own || Object.keys(own).length === 0) return required;
  const out: Record<string, unknown> = { ...own };
  for (const [key, rule] of Object.entries(required)) {
    if (!Object.hasOwn(out, key)) out[key] = rule;
    else if (isFieldPath(key)) out[key] = [...asList(out[key]), ...asList(rule)];
    else out[key] = mergeFields(out[key] as Record<string, unknown>, rule as Record<string, unknown>);
  }
  return out;
}
