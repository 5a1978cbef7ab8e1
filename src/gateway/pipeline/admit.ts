import type { ResponseTransform } from "../body-transform.js";
import { enforceGate, type GateResult } from "../constraint-gate.js";
import { gateMcpRequest } from "../mcp/request-gate.js";
import type { Authorised } from "./authorise.js";
import type { PipelineDeps } from "./deps.js";
import { type Exchange, type Rejection, refuse, type Subject } from "./exchange.js";

/**
 * Stage 4, admit: what is checked in this process before a use is counted (no refusal here counts one). The
 * per-nonce concurrency limit (`limits`, shared with the AWS flow; the rate is the consume's); then, for MCP
 * services, every JSON-RPC message against the nonce's tool scopes (mcp/request-gate.ts); then the request
 * constraints and `_method` overrides (constraint-gate.ts: the body is read, bounded, only when needed). Every
 * refusal but a malformed or oversized body first reads the nonce's live status (`unlessDead`).
 */

export interface Admitted {
  authorised: Authorised;
  /** The body, when a gate read it (forwarded as the same bytes with a Content-Length); null: it streams. */
  body: Buffer | null;
  /** Rewrites the answer before scrubbing (MCP services: tools/list filtering). */
  transform: ResponseTransform | undefined;
}

/**
 * Per-nonce concurrency, in this process: null when the request may go on (and then holds its slot until it
 * closes). The rate is decided by the consume, in the store, so it holds across replicas.
 */
export function limits(d: PipelineDeps, x: Exchange, s: Subject): Rejection | null {
  const info = s.nonce;
  if (!d.limits.hold(x.res, info.id, d.cfg.maxConcurrentPerNonce)) {
    return refuse(s, "rate_limited", "too many concurrent requests for this nonce", {
      retryAfterS: 1,
      unlessDead: true,
    });
  }
  return null;
}

/** A plain value when neither gate has to read the body (no promise on the hot path). */
export function admit(
  d: PipelineDeps,
  x: Exchange,
  a: Authorised,
): Admitted | Rejection | Promise<Admitted | Rejection> {
  const limited = limits(d, x, a.subject);
  if (limited) return limited;
  return a.service.template === "mcp" ? admitMcp(d, x, a) : gate(d, x, a, null, undefined);
}

async function admitMcp(d: PipelineDeps, x: Exchange, a: Authorised): Promise<Admitted | Rejection> {
  const s = a.subject;
  const mcp = await gateMcpRequest(s.nonce.scopes, x.method, x.req, a.framing, d.bodyCap);
  if ("refuse" in mcp) {
    return refuse(s, mcp.refuse, mcp.message, {
      unlessDead: mcp.refuse !== "bad_request",
      ...(mcp.audit ? { audit: mcp.refuse, auditData: mcp.audit } : {}),
    });
  }
  return gate(d, x, a, mcp.body, mcp.transform);
}

/** Constraints and `_method` (constraint-gate.ts); `body` is what the MCP gate read, if it did. */
function gate(
  d: PipelineDeps,
  x: Exchange,
  a: Authorised,
  body: Buffer | null,
  transform: ResponseTransform | undefined,
): Admitted | Rejection | Promise<Admitted | Rejection> {
  const { canonical } = a;
  const target = { method: x.method, segments: canonical.segments, query: canonical.query };
  const result = enforceGate(a.subject.nonce, x.req, target, a.framing, d.bodyCap, body);
  return result instanceof Promise
    ? result.then((r) => verdict(a, r, body, transform))
    : verdict(a, result, body, transform);
}

function verdict(
  a: Authorised,
  gate: GateResult,
  body: Buffer | null,
  transform: ResponseTransform | undefined,
): Admitted | Rejection {
  const s = a.subject;
  if ("unreadable" in gate) return refuse(s, "bad_request", "the request body could not be read");
  if ("tooLarge" in gate) return refuse(s, "payload_too_large", "request body exceeds the gateway limit");
  if ("refused" in gate) return refuse(s, "bad_request", gate.refused, { unlessDead: true, audit: "method_override" });
  if ("field" in gate) {
    return refuse(s, "constraint_failed", `request field ${gate.field} does not satisfy this nonce's constraints`, {
      unlessDead: true,
      audit: "constraint_failed",
      auditData: { field: gate.field },
    });
  }
  // A body read by the MCP gate and not needed by the constraint gate is still the one to forward.
  return { authorised: a, body: gate.body ?? body, transform };
}
