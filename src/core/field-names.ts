/**
 * How upstream frameworks map a parameter or JSON key name onto a field, so that a constraint can tell an exact
 * hit from a spelling that some upstream may read as the same field (SECURITY.md rule 11). An alias is never
 * checked as a value: it makes the request ambiguous, and the gateway refuses it.
 *
 * The readers modelled:
 * - Go encoding/json (and ASP.NET model binding, Jackson with case-insensitive properties) match keys
 *   case-insensitively under Unicode simple folding: `AMOUNT`, `ſ` (U+017F) for `s`, `K` (U+212A) for `k`;
 *   Java's equalsIgnoreCase also folds `İ` (U+0130) and `ı` (U+0131) onto `i`.
 * - PHP rewrites ` ` and `.` in a parameter's base name to `_` and drops leading spaces (`order.id` is `order_id`).
 * - Laravel's dot notation (`input('metadata.order_id')`) returns a flat key `metadata.order_id` before the
 *   nested one.
 * - Rack/PHP bracket nesting: `a[b][0][c]`; `a[]` is the list `a`; C-based parsers may cut a name at NUL.
 */

const FOLDS_TO_ASCII: ReadonlyMap<number, string> = new Map([
  [0x017f, "s"],
  [0x212a, "k"],
  [0x0130, "i"],
  [0x0131, "i"],
]);

/** Case-folds a name onto ASCII the way the most lenient reader would; other characters are kept. */
export function foldName(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0) break;
    if (c >= 0x41 && c <= 0x5a) out += String.fromCharCode(c + 32);
    else if (c < 0x80) out += s[i];
    else out += FOLDS_TO_ASCII.get(c) ?? s[i];
  }
  return out;
}

/** A form/query parameter name split into its base and bracket segments; `odd` when the brackets are irregular. */
export function formSegments(key: string): { segs: string[]; odd: boolean } {
  const open = key.indexOf("[");
  if (open === -1) return { segs: [key], odd: false };
  const segs = [key.slice(0, open)];
  let i = open;
  let odd = open === 0;
  while (i < key.length) {
    const close = key.indexOf("]", i);
    if (key[i] !== "[" || close === -1) {
      odd = true;
      break;
    }
    segs.push(key.slice(i + 1, close));
    i = close + 1;
  }
  if (segs.length > 1 && segs[segs.length - 1] === "") segs.pop();
  if (segs.includes("") || segs.some((s) => s.includes("["))) odd = true;
  return { segs, odd };
}

/** PHP's rewrite of a parameter's base name. */
function phpBase(base: string): string {
  return base.replace(/^ +/, "").replace(/[ .[]/g, "_");
}

/** The comparable form of a dotted name: folded, without list indexes or empty segments (`items[0][x]` ~ `items.x`). */
function shape(dotted: string): string {
  return foldName(dotted)
    .split(".")
    .filter((s) => s !== "" && !/^[0-9]+$/.test(s))
    .join(".");
}

const PLAIN_NAME = /^[A-Za-z0-9_-]+$/;
const DIGITS = /^[0-9]+$/;

/** Every comparable form a parameter name may take in some upstream. */
export function formAliases(key: string): string[] {
  // The common case, a plain ASCII name, has one form (hot path: every key of every object on a checked path).
  if (PLAIN_NAME.test(key)) return [DIGITS.test(key) ? "" : key.toLowerCase()];
  const { segs } = formSegments(key);
  const rest = segs.slice(1);
  const base = segs[0] ?? "";
  return [...new Set([shape([base, ...rest].join(".")), shape([phpBase(base), ...rest].join("."))])];
}

const shapes = new WeakMap<readonly string[], string[]>();

/** The comparable form of a constrained path's suffix from segment `from` on (memoised per compiled path). */
export function pathShape(path: readonly string[], from = 0): string {
  let list = shapes.get(path);
  if (!list) {
    list = path.map((_, i) => shape(path.slice(i).join(".")));
    shapes.set(path, list);
  }
  return list[from] ?? "";
}

/** An alias `a` names the field `t`, a container of it, or a value inside it. */
export function related(a: string, t: string): boolean {
  return a === t || a.startsWith(`${t}.`) || t.startsWith(`${a}.`);
}

/** `_method` in any case or spelling a framework reads as Rails/Laravel/Symfony's method override. */
export function isMethodOverrideKey(key: string): boolean {
  const base = formSegments(key).segs[0] ?? "";
  return foldName(phpBase(base)) === "_method" || foldName(base) === "_method";
}
