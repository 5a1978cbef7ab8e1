import { describe, expect, it } from "vitest";
import { createMetrics } from "./metrics.js";

describe("gateway tally (per-request counts folded into prom-client when scraped)", () => {
  it("exports exact counts, once each, however often it is scraped, beside direct increments", async () => {
    const m = createMetrics({ defaultMetrics: false });
    for (let i = 0; i < 3; i++) m.gatewayTally.request("svc", "forwarded");
    m.gatewayTally.request("", "nonce_missing");
    m.gatewayRequests.inc({ service: "", outcome: "nonce_missing" });
    const first = await m.registry.metrics();
    expect(first).toContain('agent_nonce_gateway_requests_total{service="svc",outcome="forwarded"} 3');
    expect(first).toContain('agent_nonce_gateway_requests_total{service="",outcome="nonce_missing"} 2');
    const second = await m.registry.metrics();
    expect(second).toContain('agent_nonce_gateway_requests_total{service="svc",outcome="forwarded"} 3');
    m.gatewayTally.request("svc", "forwarded");
    expect(await m.registry.metrics()).toContain(
      'agent_nonce_gateway_requests_total{service="svc",outcome="forwarded"} 4',
    );
  });

  it("the in-flight gauge reads the live count; upstream seconds land in the service's buckets", async () => {
    const m = createMetrics({ defaultMetrics: false });
    m.gatewayTally.inFlight += 2;
    m.gatewayTally.upstreamSeconds(m.gatewayUpstreamSeconds, "svc", 0.002);
    m.gatewayTally.upstreamSeconds(m.gatewayUpstreamSeconds, "svc", 0.02);
    const text = await m.registry.metrics();
    expect(text).toContain("agent_nonce_gateway_in_flight 2");
    expect(text).toContain('agent_nonce_gateway_upstream_seconds_bucket{le="0.0025",service="svc"} 1');
    expect(text).toContain('agent_nonce_gateway_upstream_seconds_count{service="svc"} 2');
    m.gatewayTally.inFlight -= 2;
    expect(await m.registry.metrics()).toContain("agent_nonce_gateway_in_flight 0");
  });
});
