import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { GatewayTally } from "./gateway-tally.js";

/** Every Prometheus metric the process exposes, on one registry (no global default registry). */
export function createMetrics(opts: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  // The gateway's per-request counts, folded into the counter and gauge below when they are collected.
  const gatewayTally = new GatewayTally();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: "agent_nonce_" });
  return {
    registry,
    gatewayTally,
    apiRequests: new Counter({
      name: "agent_nonce_api_requests_total",
      help: "Control-plane requests by route and status.",
      labelNames: ["method", "route", "status"] as const,
      registers: [registry],
    }),
    apiFastPath: new Counter({
      name: "agent_nonce_api_fast_path_total",
      help: "Control-plane requests answered by the node:http entry point for POST /v1/nonces, by status.",
      labelNames: ["status"] as const,
      registers: [registry],
    }),
    noncesIssued: new Counter({
      name: "agent_nonce_nonces_issued_total",
      help: "Nonces issued, by service.",
      labelNames: ["service"] as const,
      registers: [registry],
    }),
    issueDenied: new Counter({
      name: "agent_nonce_nonce_issue_denied_total",
      help: "Issuance requests denied, by reason.",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    noncesRevoked: new Counter({
      name: "agent_nonce_nonces_revoked_total",
      help: "Nonces revoked.",
      registers: [registry],
    }),
    gatewayRequests: new Counter({
      name: "agent_nonce_gateway_requests_total",
      help: "Gateway requests by service and outcome (forwarded, or the rejection code).",
      labelNames: ["service", "outcome"] as const,
      registers: [registry],
      collect() {
        gatewayTally.foldRequests(this);
      },
    }),
    gatewayUpstreamSeconds: new Histogram({
      name: "agent_nonce_gateway_upstream_seconds",
      help: "Time from forwarding to the upstream's response headers.",
      labelNames: ["service"] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    gatewayInFlight: new Gauge({
      name: "agent_nonce_gateway_in_flight",
      help: "Gateway requests in flight.",
      registers: [registry],
      collect() {
        this.set(gatewayTally.inFlight);
      },
    }),
    deadNoncePresentations: new Counter({
      name: "agent_nonce_dead_nonce_presentations_total",
      help: "Gateway requests carrying an expired, revoked or exhausted nonce (refused with 401), by reason.",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    canaryTripped: new Counter({
      name: "agent_nonce_canary_tripped_total",
      help: "Presentations of a canary (tripwire) nonce at the gateway or the control plane.",
      registers: [registry],
    }),
    deadNonceNewAddress: new Counter({
      name: "agent_nonce_dead_nonce_new_address_total",
      help: "Dead nonces presented from a source address not seen for that nonce before (a replayed leak), by reason.",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    auditWriteFailures: new Counter({
      name: "agent_nonce_audit_write_failures_total",
      help: "Audit writes that failed (the request was refused: fail closed).",
      registers: [registry],
    }),
    auditSinkDropped: new Counter({
      name: "agent_nonce_audit_sink_dropped_total",
      help: "Audit events a sink dropped because its bounded queue was full (receiver down or too slow).",
      labelNames: ["sink"] as const,
      registers: [registry],
    }),
    auditSinkDelivered: new Counter({
      name: "agent_nonce_audit_sink_delivered_total",
      help: "Audit events a sink delivered.",
      labelNames: ["sink"] as const,
      registers: [registry],
    }),
    auditSinkRetries: new Counter({
      name: "agent_nonce_audit_sink_retries_total",
      help: "Failed audit sink deliveries that will be retried (with backoff).",
      labelNames: ["sink"] as const,
      registers: [registry],
    }),
    secretsScrubbed: new Counter({
      name: "agent_nonce_gateway_secret_scrubbed_total",
      help: "Responses in which the injected secret was found and redacted or blocked.",
      labelNames: ["service", "action"] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
