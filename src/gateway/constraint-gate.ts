import type { IncomingMessage } from "node:http";
import type { ConstraintChecker } from "../core/constraint-check.js";
import { inspectRequest, needsBody } from "../core/request-inspection.js";
import type { RouteMatcher } from "../core/scopes.js";

/**
 * The gateway side of SECURITY.md rule 11, "a constraint sees what the upstream will see" (core/
 * request-inspection.ts decides, core/constraint-check.ts evaluates). Query fields come from the canonical query
 * string. The body is read only when the decision needs it — a body constraint applies, a query constraint
 * applies and the request has a body (the body may carry the same field), or a POST parameter body could carry a
 * `_method` override that matters — bounded by BODY_CAP (and the gateway's maxBodyBytes), then forwarded as the
 * same bytes with a Content-Length. Otherwise the body streams through unread.
 */

export const BODY_CAP = 1024 * 1024;

/** Verbs an override may name; `PURGE` stands for any verb Symfony accepts (`[A-Z]+`), so only `*` covers it. */
const OVERRIDE_TARGETS = ["GET", "PUT", "PATCH", "DELETE", "PURGE"];

/** A body `_method` could change the decision: some verb is not allowed here, or constraints depend on the route. */
export function overrideMatters(
  matcher: RouteMatcher,
  constraints: ConstraintChecker | null,
  segments: readonly string[],
): boolean {
  if (constraints?.methodScoped) return true;
  return !OVERRIDE_TARGETS.every((m) => matcher.match(m, segments));
}

export type BodyRead = { body: Buffer } | { tooLarge: true };

/** Reads the whole request body, or stops at `limit` bytes. `declared` is the Content-Length or -1. */
export function readBody(req: IncomingMessage, declared: number, chunked: boolean, limit: number): Promise<BodyRead> {
  if (declared > limit) return Promise.resolve({ tooLarge: true });
  if (!chunked && declared <= 0) return Promise.resolve({ body: Buffer.alloc(0) });
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        cleanup();
        req.pause();
        resolve({ tooLarge: true });
      } else chunks.push(c);
    };
    const onEnd = () => {
      cleanup();
      resolve({ body: Buffer.concat(chunks, size) });
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    // A client that goes away mid-body: nothing to forward and nobody to answer.
    const onClose = () => {
      if (req.complete) return;
      cleanup();
      reject(Object.assign(new Error("client closed the request"), { code: "ECONNRESET" }));
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}

export type GateResult =
  | { body: Buffer | null }
  | { field: string }
  | { refused: string }
  | { tooLarge: true }
  | { unreadable: true };

/**
 * Checks constraints and method overrides for this request. On success, `body` is the buffered body when one had
 * to be read (and `framing.headers` then carries its Content-Length), or null when the body still streams. The
 * answer is a plain value when no body has to be read (the gateway's hot path awaits only real I/O).
 */
export function enforceGate(
  nonce: { matcher: RouteMatcher; constraints: ConstraintChecker | null },
  req: IncomingMessage,
  target: { method: string; segments: readonly string[]; query: string },
  framing: { headers: Record<string, string>; contentLength: number; chunked: boolean },
  cap: number,
  /** The body when another gate already read it (an MCP service's JSON-RPC check). */
  preread: Buffer | null = null,
): GateResult | Promise<GateResult> {
  const applied = nonce.constraints?.forRoute(target.method, target.segments) ?? null;
  const hasBody = framing.chunked || framing.contentLength > 0;
  const matters = () => overrideMatters(nonce.matcher, nonce.constraints, target.segments);
  const view = {
    method: target.method,
    query: target.query,
    headers: framing.headers,
    body: null,
    overrideMatters: false,
  };
  if (!needsBody(applied, target.method, hasBody, framing.headers["content-type"], matters)) {
    return inspectRequest(applied, view) ?? { body: null };
  }
  // Query refusals first: nothing is read for a request that is refused anyway.
  const early = inspectRequest(applied, view);
  if (early) return early;
  return gateBody(applied, view, matters, req, framing, cap, preread);
}

async function gateBody(
  applied: ReturnType<ConstraintChecker["forRoute"]>,
  view: Parameters<typeof inspectRequest>[1],
  matters: () => boolean,
  req: IncomingMessage,
  framing: { headers: Record<string, string>; contentLength: number; chunked: boolean },
  cap: number,
  preread: Buffer | null,
): Promise<GateResult> {
  let read: BodyRead;
  try {
    read = preread ? { body: preread } : await readBody(req, framing.contentLength, framing.chunked, cap);
  } catch {
    return { unreadable: true };
  }
  if ("tooLarge" in read) return read;
  const verdict = inspectRequest(applied, { ...view, body: read.body, overrideMatters: matters() });
  if (verdict) return verdict;
  // Forwarded exactly as received, now with its length known.
  framing.headers["content-length"] = String(read.body.length);
  return { body: read.body };
}
