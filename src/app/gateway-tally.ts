import type { Counter, Histogram } from "prom-client";

/**
 * The gateway's per-request metrics, kept where a request costs least: plain numbers, folded into prom-client
 * when the registry is collected (a `/metrics` scrape). A labelled `inc` in prom-client builds, validates and
 * hashes its label set on every call (about a microsecond each on the bench machine, several per request); here a
 * request costs two Map lookups and an addition. The exported values are the same; only the moment they reach
 * prom-client moves.
 */

interface Pending {
  readonly labels: { service: string; outcome: string };
  n: number;
}

type Observer = { observe(value: number): void };

export class GatewayTally {
  /** Requests in flight, read by the in-flight gauge's collect. */
  inFlight = 0;
  private readonly requests = new Map<string, Map<string, Pending>>();
  private readonly upstream = new Map<string, Observer>();

  /** One gateway answer (`forwarded`, or the rejection code) for a service ("" before the nonce is known). */
  request(service: string, outcome: string): void {
    let byOutcome = this.requests.get(service);
    if (byOutcome === undefined) {
      byOutcome = new Map();
      this.requests.set(service, byOutcome);
    }
    const p = byOutcome.get(outcome);
    if (p === undefined) byOutcome.set(outcome, { labels: { service, outcome }, n: 1 });
    else p.n += 1;
  }

  /** Adds the counts gathered since the last fold to the counter (its collect hook). */
  foldRequests(counter: Counter<"service" | "outcome">): void {
    for (const byOutcome of this.requests.values()) {
      for (const p of byOutcome.values()) {
        if (p.n === 0) continue;
        counter.inc(p.labels, p.n);
        p.n = 0;
      }
    }
  }

  /** The upstream's time to response headers, through the service's cached labelled child. */
  upstreamSeconds(histogram: Histogram<"service">, service: string, seconds: number): void {
    let child = this.upstream.get(service);
    if (child === undefined) {
      child = histogram.labels(service);
      this.upstream.set(service, child);
    }
    child.observe(seconds);
  }
}
