/**
 * The small glob used by OIDC trust relationships for `subject` and claim values: `*` matches any run of
 * characters (none included, `/` and `:` included: subjects such as `repo:org/app:ref:refs/heads/main` have no
 * segments to respect), every other character matches itself, and the whole value must match. No `?`, classes
 * or escapes. Matching is the two-pointer wildcard algorithm with one backtrack point: linear-ish time, no regex,
 * so no pattern can be made to take exponential time.
 */
export const GLOB_MAX = 512;

export function globMatch(pattern: string, value: string): boolean {
  let p = 0;
  let v = 0;
  let star = -1;
  let mark = 0;
  while (v < value.length) {
    if (p < pattern.length && pattern[p] !== "*" && pattern[p] === value[v]) {
      p += 1;
      v += 1;
    } else if (p < pattern.length && pattern[p] === "*") {
      star = p;
      mark = v;
      p += 1;
    } else if (star !== -1) {
      p = star + 1;
      mark += 1;
      v = mark;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === "*") p += 1;
  return p === pattern.length;
}
