import { AppError } from "./errors.js";
import type { ScopeCatalog } from "./types.js";

/**
 * Route scopes: `"METHOD /path/{param}/**"`. `{name}` matches exactly one non-empty path segment, a final `**`
 * matches zero or more remaining segments, `*` as the method matches any method. Patterns are compiled once into
 * a per-method segment trie; matching walks the request's canonical segments (see gateway/canonical-path.ts),
 * so the form that is authorised is the form that is forwarded.
 *
 * Encoded slashes: clients encode `/` as `%2F` inside a path parameter (Octokit's `{path}` and `{ref}`). The
 * canonicaliser decodes it into separate segments and reports from which segment on they came from an encoded
 * `/` (`encodedSlashFrom`); only a final `**` may cover those segments: a literal or `{param}` never does, so
 * `a%2Fb` cannot stand in for two segments of a pattern, only for the tail a `**` grants anyway.
 */

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "*"]);
// A literal segment in a pattern: RFC 3986 pchar without percent-encoding, and no dot-segments.
const LITERAL = /^[A-Za-z0-9\-._~!$&'()*+,=:@]+$/;
const PARAM = /^\{[A-Za-z_][A-Za-z0-9_]*\}$/;

export interface ParsedRoute {
  method: string;
  segments: string[];
}

export function isRoutePattern(scope: string): boolean {
  return /^[A-Z*]+ \//.test(scope);
}

export function parseRoute(pattern: string): ParsedRoute {
  const m = /^([A-Z]+|\*) (\/\S*)$/.exec(pattern);
  if (!m)
    throw new AppError(
      "invalid_request",
      `route scope must look like "GET /v1/things/{id}": ${JSON.stringify(pattern)}`,
    );
  const method = m[1] as string;
  if (!METHODS.has(method)) throw new AppError("invalid_request", `unsupported method in route scope: ${method}`);
  const path = m[2] as string;
  const segments = path === "/" ? [] : path.slice(1).split("/");
  segments.forEach((seg, i) => {
    const last = i === segments.length - 1;
    if (seg === "**" && last) return;
    if (PARAM.test(seg)) return;
    if (seg === "." || seg === ".." || !LITERAL.test(seg) || seg.includes("*")) {
      throw new AppError(
        "invalid_request",
        `invalid segment ${JSON.stringify(seg)} in route scope ${JSON.stringify(pattern)}`,
      );
    }
  });
  return { method, segments };
}

interface Node {
  literal: Map<string, Node>;
  param: Node | null;
  /** A `**` ends here: this node and everything below it match. */
  rest: boolean;
  /** A pattern ends exactly here. */
  end: boolean;
}

function node(): Node {
  return { literal: new Map(), param: null, rest: false, end: false };
}

export interface RouteMatcher {
  /**
   * `segments` are the canonical path segments (no leading empty segment); `method` is upper-case. Segments at
   * `encodedSlashFrom` and after (default: none) may only be matched by a final `**`.
   */
  match(method: string, segments: readonly string[], encodedSlashFrom?: number): boolean;
  readonly size: number;
}

function walk(n: Node, segs: readonly string[], i: number, tailOnly: number): boolean {
  if (n.rest) return true;
  if (i === segs.length) return n.end;
  if (i >= tailOnly) return false;
  const seg = segs[i] as string;
  const lit = n.literal.get(seg);
  if (lit && walk(lit, segs, i + 1, tailOnly)) return true;
  return n.param !== null && seg.length > 0 && walk(n.param, segs, i + 1, tailOnly);
}

/**
 * Whether a request may go where the matcher's routes allow: `HEAD` is allowed wherever `GET` is. This is the one
 * place that rule lives (the gateway's scope check and route-scoped constraints both ask here); `match` itself
 * answers for the method as written.
 */
export function routeAllows(
  m: RouteMatcher,
  method: string,
  segments: readonly string[],
  encodedSlashFrom?: number,
): boolean {
  return (
    m.match(method, segments, encodedSlashFrom) || (method === "HEAD" && m.match("GET", segments, encodedSlashFrom))
  );
}

export function compileRoutes(patterns: readonly string[]): RouteMatcher {
  const roots = new Map<string, Node>();
  for (const p of patterns) {
    const r = parseRoute(p);
    let n = roots.get(r.method);
    if (!n) {
      n = node();
      roots.set(r.method, n);
    }
    for (const seg of r.segments) {
      if (seg === "**") {
        n.rest = true;
        break;
      }
      if (PARAM.test(seg)) {
        n.param ??= node();
        n = n.param;
      } else {
        let next = n.literal.get(seg);
        if (!next) {
          next = node();
          n.literal.set(seg, next);
        }
        n = next;
      }
    }
    if (r.segments.at(-1) !== "**") n.end = true;
  }
  const any = roots.get("*");
  return {
    size: patterns.length,
    match(method, segments, encodedSlashFrom = segments.length) {
      const byMethod = roots.get(method);
      if (byMethod && walk(byMethod, segments, 0, encodedSlashFrom)) return true;
      return any !== undefined && walk(any, segments, 0, encodedSlashFrom);
    },
  };
}

// A member of a scope family: `tool:search` under a catalog entry named `tool:*` (MCP tool names, see
// gateway/mcp/). Members are plain names, so a family never matches a route pattern or another family.
const FAMILY_MEMBER = /^([A-Za-z0-9_.-]+:)([A-Za-z0-9_.\-/]{1,128})$/;

/** The name of the family `scope` belongs to (`tool:search` → `tool:*`), or null. */
export function scopeFamily(scope: string): string | null {
  const m = FAMILY_MEMBER.exec(scope);
  return m ? `${m[1]}*` : null;
}

/**
 * A catalog name's routes. A catalog entry named `<prefix>:*` is a family: every `<prefix>:<name>` resolves to
 * its routes (the name itself is kept in the nonce's scopes, where the gateway reads it, e.g. as an MCP tool).
 */
function catalogEntry(catalog: ScopeCatalog, scope: string): string[] | undefined {
  if (Object.hasOwn(catalog, scope)) return catalog[scope];
  const family = scopeFamily(scope);
  return family !== null && Object.hasOwn(catalog, family) ? catalog[family] : undefined;
}

/**
 * Resolves requested scopes against a service's catalog into the route patterns the nonce will carry.
 * Catalog names resolve through the catalog; raw route patterns are allowed only when `allowRoutes`.
 * Unknown names fail with `scope_unknown` (422).
 */
export function resolveScopes(catalog: ScopeCatalog, requested: readonly string[], allowRoutes: boolean): string[] {
  if (requested.length === 0) throw new AppError("invalid_request", "scope must name at least one scope");
  const routes = new Set<string>();
  for (const s of requested) {
    if (isRoutePattern(s)) {
      if (!allowRoutes) throw new AppError("forbidden", "this API key may not issue raw route scopes");
      parseRoute(s);
      routes.add(s);
      continue;
    }
    const entry = catalogEntry(catalog, s);
    if (!entry)
      throw new AppError("scope_unknown", `unknown scope ${JSON.stringify(s)} for this service`, { scope: s });
    for (const r of entry) routes.add(r);
  }
  return [...routes];
}

/** Validates every route in a catalog (used when a service is written). */
export function validateCatalog(catalog: ScopeCatalog): void {
  for (const [name, routes] of Object.entries(catalog)) {
    if (!/^[A-Za-z0-9_.:\-*]{1,100}$/.test(name) || isRoutePattern(name)) {
      throw new AppError("invalid_request", `invalid scope name ${JSON.stringify(name)}`);
    }
    if (!Array.isArray(routes) || routes.length === 0) {
      throw new AppError("invalid_request", `scope ${JSON.stringify(name)} must list at least one route`);
    }
    for (const r of routes) parseRoute(r);
  }
}
