import type { ResponseTransform } from "../body-transform.js";
import { enforceGate } from "../constraint-gate.js";
import { gateMcpRequest } from "../mcp/request-gate.js";
import type { Authorised } from "./authorise.js";
import type { PipelineDeps } from "./deps.js";
import { type Exchange, type Rejection, refuse, type Subject } from "./exchange.js";

/**
 * Stage 4, admit: what is checked in this process before a use is counted (no refusal here counts one). The
 * per-nonce limits (`limits`, shared with the AWS flow): requests in flight, then the rate; then, for MCP
 * services, every JSON-RPC message against the nonce's tool scopes (mcp/request-gate.ts); then the request
 * constraints and `_method` overrides (constraint-gate.ts: the body is read, bounded, only when needed). Every
 * refusal but a malformed or oversized body first reads the nonce's live status (`unlessDead`).
 */

export interface Admitted extends Authorised {
  /** The body, when a gate read it (forwarded as the same bytes with a Content-Length); null: it streams. */
  body: Buffer | null;
  /** Rewrites the answer before scrubbing (MCP services: tools/list filtering). */
  transform: ResponseTransform | undefined;
}

/** Per-nonce concurrency, then rate: null when the request may go on (and then holds its slot until it closes). */
export function limits(d: PipelineDeps, x: Exchange, s: Subject): Rejection | null {
  const info = s.nonce;
  if (!d.limits.hold(x.res, info.id, d.cfg.maxConcurrentPerNonce)) {
    return refuse(s, "rate_limited", "too many concurrent requests for this nonce", {
      retryAfterS: 1,
      unlessDead: true,
    });
  }
  if (info.rate) {
    const waitMs = d.limits.rateWaitMs(info as typeof info & { rate: NonNullable<typeof info.rate> }, x.now);
    if (waitMs > 0) {
      return refuse(s, "rate_limited", "this nonce's rate limit is exceeded", {
        retryAfterS: Math.max(1, Math.ceil(waitMs / 1000)),
        unlessDead: true,
        audit: "rate_limited",
      });
    }
  }
  return null;
}

export async function admit(d: PipelineDeps, x: Exchange, a: Authorised): Promise<Admitted | Rejection> {
  const s = a.subject;
  const limited = limits(d, x, s);
  if (limited) return limited;

  let body: Buffer | null = null;
  let transform: ResponseTransform | undefined;
  if (a.service.template === "mcp") {
    const gate = await gateMcpRequest(s.nonce.scopes, x.method, x.req, a.framing, d.bodyCap);
    if ("refuse" in gate) {
      return refuse(s, gate.refuse, gate.message, {
        unlessDead: gate.refuse !== "bad_request",
        ...(gate.audit ? { audit: gate.refuse, auditData: gate.audit } : {}),
      });
    }
    body = gate.body;
    transform = gate.transform;
  }

  const { canonical } = a;
  const target = { method: x.method, segments: canonical.segments, query: canonical.query };
  const gate = await enforceGate(s.nonce, x.req, target, a.framing, d.bodyCap, body);
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
  return { ...a, body: gate.body ?? body, transform };
}
