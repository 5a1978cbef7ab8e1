import { type CanonicalTarget, canonicalizeTarget } from "../canonical-path.js";
import { type FilteredRequestHeaders, filterRequestHeaders } from "../headers.js";
import type { PipelineDeps } from "./deps.js";
import { type Exchange, type Rejection, reject } from "./exchange.js";

/**
 * Stage 2, target: the canonical path (canonical-path.ts, SECURITY.md rules 1, 2 and 15: the one form that is
 * authorised and forwarded), the request header allowlist and framing checks (headers.ts, rules 4–6 and 13), and
 * a declared body over the gateway's limit (413).
 */

export interface Target {
  canonical: CanonicalTarget;
  /** The allowlisted headers (the outbound request's, filled in by later stages) and the body's framing. */
  framing: FilteredRequestHeaders;
}

export function target(d: PipelineDeps, x: Exchange): Target | Rejection {
  const canonical = canonicalizeTarget(x.req.url ?? "");
  if ("error" in canonical) return reject("bad_request", canonical.error);
  const framing = filterRequestHeaders(x.req.rawHeaders);
  if ("error" in framing) return reject("bad_request", framing.error);
  if (framing.contentLength > d.cfg.maxBodyBytes) {
    return reject("payload_too_large", "request body exceeds the gateway limit");
  }
  return { canonical, framing };
}
