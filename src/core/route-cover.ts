import { parseRoute } from "./scopes.js";

/**
 * Delegation (DESIGN.md): a child nonce's routes must be a subset of its parent's. `covers(parent, child)` is
 * true when every request `child` matches is matched by `parent`, pattern against pattern (core/scopes.ts
 * syntax): the parent's method is `*` or the child's (a child `*` only under a parent `*`); a parent literal
 * covers the same literal only, a parent `{param}` covers a literal or a `{param}` (never a `**`), and a
 * parent's final `**` covers whatever the child has from there on. The check is conservative: a child route
 * covered only by the union of several parent routes is refused.
 */
const PARAM = /^\{[A-Za-z_][A-Za-z0-9_]*\}$/;

export function covers(parentPattern: string, childPattern: string): boolean {
  const p = parseRoute(parentPattern);
  const c = parseRoute(childPattern);
  if (p.method !== "*" && p.method !== c.method) return false;
  for (let i = 0; i < p.segments.length; i++) {
    const ps = p.segments[i] as string;
    if (ps === "**") return true;
    const cs = c.segments[i];
    if (cs === undefined || cs === "**") return false;
    if (PARAM.test(ps)) continue;
    if (PARAM.test(cs) || cs !== ps) return false;
  }
  return c.segments.length === p.segments.length;
}

/** The child routes no parent route covers (empty: the child is within the parent). */
export function uncoveredRoutes(parent: readonly string[], child: readonly string[]): string[] {
  return child.filter((c) => !parent.some((p) => covers(p, c)));
}
