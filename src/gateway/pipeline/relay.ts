import type { Readable } from "node:stream";
import { BodyLimit, upstreamFailure } from "../forward.js";
import { RelayHandler, UnrelayableResponse } from "../respond.js";
import { originUnchanged } from "../upstream.js";
import { completed, errName } from "./answer.js";
import type { PipelineDeps } from "./deps.js";
import { type Exchange, type Rejection, refuse } from "./exchange.js";
import type { Outbound } from "./inject.js";

/**
 * Stage 7, relay: the upstream URL is built from the service's origin and asserted unchanged (rule 1), the request
 * is dispatched on the undici pool (forward.ts: timeouts, no redirects, the resolve-time address guard), and the
 * answer comes back through the scrubbing relay handler (respond.ts, rules 7 and 13). A relayed answer is counted
 * and closed with `nonce.completed`; a failure becomes a rejection that records the answer in `nonce.completed`
 * too (the use was counted). Returns the upstream's status, or null when nothing was relayed.
 */

export async function relay(d: PipelineDeps, x: Exchange, o: Outbound): Promise<number | Rejection | null> {
  const { req, res } = x;
  const s = o.subject;
  const pathAndQuery = o.query.length > 0 ? `${o.path}?${o.query}` : o.path;
  if (!originUnchanged(o.origin, pathAndQuery)) return refuse(s, "bad_request", "request target changes the origin");
  let body: Readable | Buffer | null = null;
  if (o.body) body = o.body.length > 0 ? o.body : null;
  else if (o.framing.chunked) body = req.pipe(new BodyLimit(d.cfg.maxBodyBytes));
  else if (o.framing.contentLength > 0) body = req;
  const handler = new RelayHandler(res, x.method, o.needles, o.transform);
  const sentAt = performance.now();
  d.forwarder.dispatch(
    o,
    { origin: o.origin, path: pathAndQuery, method: x.method as "GET", headers: o.headers, body },
    handler,
  );
  const outcome = await handler.outcome;
  const m = d.ctx.metrics;
  const service = s.nonce.service;
  if (handler.headersAt > 0) {
    m.gatewayTally.upstreamSeconds(m.gatewayUpstreamSeconds, service, (handler.headersAt - sentAt) / 1000);
  }
  switch (outcome.kind) {
    case "failed": {
      if (res.destroyed) return null;
      const e = outcome.error;
      if (e instanceof UnrelayableResponse) {
        return refuse(s, "upstream_error", "the upstream sent a response the gateway cannot relay", {
          completes: true,
        });
      }
      const failure = upstreamFailure(e);
      d.ctx.log.warn({ err: errName(e), request_id: x.requestId, service }, "gateway upstream failed");
      return refuse(s, failure.code, failure.message, { completes: true });
    }
    case "blocked":
      m.secretsScrubbed.inc({ service, action: "blocked" });
      return refuse(s, "response_blocked", outcome.reason, { completes: true });
    case "relayed":
      if (outcome.scrubbed > 0) m.secretsScrubbed.inc({ service, action: "redacted" }, outcome.scrubbed);
      m.gatewayTally.request(service, "forwarded");
      completed(d, x, s, outcome.status, outcome.bytes);
      return outcome.status;
  }
}
