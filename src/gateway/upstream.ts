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
  try {
    // Both ways a client library might build it: concatenation (undici) and resolution against the origin.
    return new URL(origin + pathAndQuery).origin === origin && new URL(pathAndQuery, origin).origin === origin;
  } catch {
    return false;
  }
}
