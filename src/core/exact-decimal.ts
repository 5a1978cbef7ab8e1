/**
 * Exact comparison of decimal numbers written as text, for constraints (SECURITY.md rule 11: "numbers are compared
 * exactly"). A JSON body's `9007199254740993` or `5000.00000000000000001` is what a Go int64 / decimal upstream
 * reads; JSON.parse would round both to a double and let them pass an `eq`/`max` they do not satisfy. So body
 * numbers are kept as their literal and compared digit by digit, never converted to a double.
 *
 * A value is `sign × 0.d1d2d3… × 10^point`: `digits` without leading or trailing zeros ("" for zero), `point`
 * the position of the decimal point. Comparison never materialises zeros, so `1e999999999` costs nothing.
 */

export interface Decimal {
  neg: boolean;
  digits: string;
  point: number;
}

/** The JSON number grammar (RFC 8259 §6). */
const JSON_NUMBER = /^(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?$/;
/** Plain decimals as query and form values must be written: no exponent, no `+`, no leading zero, no bare `.`. */
const PLAIN_DECIMAL = /^(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?$/;
/** Exponents beyond this are clamped: bodies are capped far below 10^9 digits, so order is preserved. */
const EXP_CLAMP = 1e9;

function build(neg: boolean, int: string, frac: string, exp: number): Decimal {
  let digits = int + frac;
  let point = int.length + exp;
  let lead = 0;
  while (lead < digits.length && digits.charCodeAt(lead) === 48) lead++;
  let end = digits.length;
  while (end > lead && digits.charCodeAt(end - 1) === 48) end--;
  digits = digits.slice(lead, end);
  point -= lead;
  return digits.length === 0 ? { neg: false, digits: "", point: 0 } : { neg, digits, point };
}

function clampExp(s: string | undefined): number {
  if (s === undefined) return 0;
  const body = s.replace(/^[+-]/, "").replace(/^0+(?=.)/, "");
  const mag = body.length > 10 ? EXP_CLAMP : Math.min(Number(body), EXP_CLAMP);
  return s.startsWith("-") ? -mag : mag;
}

/** A JSON number literal (`-1.5e3`), or null when `s` is not one. */
export function parseJsonNumber(s: string): Decimal | null {
  const m = JSON_NUMBER.exec(s);
  if (!m) return null;
  return build(m[1] === "-", m[2] as string, m[3] ?? "", clampExp(m[4]));
}

/** A plain decimal written in full (`5000`, `-1.25`), or null (`5e3`, `+5`, `05`, ` 5`, `0x10`, `5.`). */
export function parsePlainDecimal(s: string): Decimal | null {
  const m = PLAIN_DECIMAL.exec(s);
  if (!m) return null;
  return build(m[1] === "-", m[2] as string, m[3] ?? "", 0);
}

/**
 * A constraint's number (an IEEE double after JSON parsing at issuance) as the shortest decimal that round-trips
 * it: `0.1` is 0.1, not 0.1000000000000000055…, which is what the issuer wrote.
 */
export function fromNumber(n: number): Decimal {
  if (!Number.isFinite(n)) throw new RangeError("not a finite number");
  const d = parseJsonNumber(String(n).replace("e+", "e"));
  if (!d) throw new RangeError("unexpected number form");
  return d;
}

function compareMagnitude(a: Decimal, b: Decimal): number {
  if (a.digits.length === 0 || b.digits.length === 0)
    return (a.digits.length === 0 ? 0 : 1) - (b.digits.length === 0 ? 0 : 1);
  if (a.point !== b.point) return a.point < b.point ? -1 : 1;
  const n = Math.min(a.digits.length, b.digits.length);
  for (let i = 0; i < n; i++) {
    const d = a.digits.charCodeAt(i) - b.digits.charCodeAt(i);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  // Same leading digits: the longer one has more non-zero digits after them (no trailing zeros), so it is larger.
  return Math.sign(a.digits.length - b.digits.length);
}

/** -1, 0 or 1 as a <, =, > b, exactly. */
export function compareDecimal(a: Decimal, b: Decimal): number {
  if (a.neg !== b.neg) return a.neg ? -1 : 1;
  const m = compareMagnitude(a, b);
  return a.neg ? -m : m;
}
