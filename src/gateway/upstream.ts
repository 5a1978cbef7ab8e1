import { isNonPublicHost } from "../core/ip-address.js";
import type { ServiceRecord } from "../core/types.js";

/**
 * SECURITY.md rules 1 and 9. The upstream origin comes only from the service record, and is checked once per
 * service version: https unless the service is marked `insecureUpstream`; loopback, private, link-local and
 * other non-public addresses, their IPv6 transition forms (core/ip-address.ts) and local names (`localhost`,
 * `*.internal`, `*.local`) only when marked `insecureUpstream`. Names that resolve to such
 * addresses are caught at connect time by `guardedLookup` (see forward.ts).
 */

export interface UpstreamTarget {
  /** `scheme://host[:port]`, exactly as `new URL(...).origin` renders it. */
  origin: string;
  insecure: boolean;
}

export type UpstreamCheck = UpstreamTarget | { error: string };

export function checkUpstream(service: Pick<ServiceRecord, "upstream" | "insecureUpstream">): UpstreamCheck {
  let url: URL;
  try {
    url = new URL(service.upstream);
  } catch {
    return { error: "service upstream is not a valid URL" };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return { error: "service upstream must be http(s)" };
  if (url.username || url.password || url.search || url.hash || (url.pathname !== "/" && url.pathname !== "")) {
    return { error: "service upstream must be an origin only" };
  }
  if (url.protocol === "http:" && !service.insecureUpstream) {
    return { error: "service upstream must use https (mark the service insecure_upstream to allow http)" };
  }
  if (isNonPublicHost(url.hostname) && !service.insecureUpstream) {
    return { error: "service upstream is a private or loopback address (mark it insecure_upstream to allow)" };
  }
  return { origin: url.origin, insecure: service.insecureUpstream };
}

/**
 * Rule 1, checked on every request: the URL built from the configured origin and the canonical path must still
 * have that origin. The canonical path already excludes everything that could change it; this is the backstop.
 */
export function originUnchanged(origin: string, pathAndQuery: string): boolean {
  return pathAbsolute(pathAndQuery) || originUnchangedByUrl(origin, pathAndQuery);
}

/**
 * The exact cheap case of `originUnchangedByUrl`, without parsing two URLs: a target that starts with `/` and
 * whose second character is none of `/`, `\` (what would make it scheme-relative, `//host`) or an ASCII tab or
 * newline (which the URL parser deletes anywhere, so `/\t/host` reads as `//host`). Such a target is a path-absolute
 * reference: resolved against the origin it keeps the origin's scheme, host and port, and appended to the origin
 * it starts right where the authority ends. Everything else is decided by the URL parse
 * (upstream.property.test.ts checks the two agree).
 */
export function pathAbsolute(pathAndQuery: string): boolean {
  if (pathAndQuery.charCodeAt(0) !== 47 /* / */) return false;
  if (pathAndQuery.length === 1) return true;
  const c = pathAndQuery.charCodeAt(1);
  return c !== 47 /* / */ && c !== 92 /* \ */ && c !== 9 && c !== 10 && c !== 13;
}

/** Both ways a client library might build the URL: concatenation (undici) and resolution against the origin. */
export function originUnchangedByUrl(origin: string, pathAndQuery: string): boolean {
  try {
    return new URL(origin + pathAndQuery).origin === origin && new URL(pathAndQuery, origin).origin === origin;
  } catch {
    return false;
  }
}
