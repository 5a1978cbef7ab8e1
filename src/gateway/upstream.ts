import { isIP } from "node:net";
import type { ServiceRecord } from "../core/types.js";

/**
 * SECURITY.md rules 1 and 9. The upstream origin comes only from the service record, and is checked once per
 * service version: https unless the service is marked `insecureUpstream`; loopback, private, link-local and
 * other non-public addresses (and `localhost`) only when marked `insecureUpstream`. Names that resolve to such
 * addresses are caught at connect time by `guardedLookup` (see forward.ts).
 */

export interface UpstreamTarget {
  /** `scheme://host[:port]`, exactly as `new URL(...).origin` renders it. */
  origin: string;
  insecure: boolean;
}

export type UpstreamCheck = UpstreamTarget | { error: string };

function v4Private(ip: string): boolean {
  const p = ip.split(".").map(Number);
  const [a = 0, b = 0] = p;
  return (
    a === 0 ||
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b <= 127) ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0 && p[2] === 0) ||
    (a === 198 && (b === 18 || b === 19)) ||
    a >= 224
  );
}

/** True for addresses that are not on the public internet (loopback, RFC 1918, link-local, ULA, CGNAT, …). */
export function isNonPublicAddress(ip: string): boolean {
  const kind = isIP(ip);
  if (kind === 4) return v4Private(ip);
  if (kind !== 6) return true;
  const s = ip.toLowerCase();
  if (s === "::" || s === "::1") return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (mapped) return v4Private(mapped[1] as string);
  if (s.startsWith("::ffff:")) return true;
  const first = Number.parseInt(s.split(":")[0] || "0", 16);
  return (first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfe80 || (first & 0xff00) === 0xff00;
}

function isLocalName(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, "");
  return h === "localhost" || h.endsWith(".localhost") || h.endsWith(".internal") || h.endsWith(".local");
}

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
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  const local = isIP(host) !== 0 ? isNonPublicAddress(host) : isLocalName(host);
  if (local && !service.insecureUpstream) {
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
