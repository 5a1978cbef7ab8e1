import { Agent } from "undici";

/**
 * The lean pass-through's forwarding, shared by passthrough-lean.mjs (the budget's baseline) and
 * passthrough-floor.mjs (the baseline plus one durable append): undici's dispatch() with a raw handler (no Readable
 * per response, no promise per chunk), chunks written to the client as they arrive, with backpressure, and a static
 * credential set on the way out. Returns `(req, res) => void`.
 */
export function leanForward(origin) {
  const agent = new Agent({ keepAliveTimeout: 60_000, connections: 128 });
  const HOP = new Set(["connection", "keep-alive", "transfer-encoding", "te", "upgrade", "host", "proxy-connection"]);
  return (req, res) => {
    const headers = {};
    for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k)) headers[k] = v;
    headers.authorization = "Bearer static-bench-credential";
    agent.dispatch(
      {
        origin,
        path: req.url,
        method: req.method,
        headers,
        body: req.method === "GET" || req.method === "HEAD" ? null : req,
      },
      {
        onRequestStart() {},
        onResponseStart(controller, status, hdrs) {
          const out = {};
          for (const k in hdrs) if (!HOP.has(k)) out[k] = hdrs[k];
          res.writeHead(status, out);
          res.on("drain", () => controller.resume());
        },
        onResponseData(controller, chunk) {
          if (!res.write(chunk)) controller.pause();
        },
        onResponseEnd() {
          res.end();
        },
        onResponseError() {
          if (!res.headersSent) res.writeHead(502);
          res.end();
        },
      },
    );
  };
}
