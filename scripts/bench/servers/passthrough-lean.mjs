import http from "node:http";
import { Agent } from "undici";

/**
 * A leaner Node floor, for reference beside passthrough.mjs: node:http in, undici's dispatch() out with a raw
 * handler (no Readable per response, no promise per chunk): chunks are written to the agent as they arrive, with
 * backpressure. The gateway's relay (src/gateway/respond.ts) is built the same way.
 * Usage: passthrough-lean.mjs <upstream origin>
 */

const origin = process.argv[2];
const agent = new Agent({ keepAliveTimeout: 60_000, connections: 128 });
const HOP = new Set(["connection", "keep-alive", "transfer-encoding", "te", "upgrade", "host", "proxy-connection"]);

const server = http.createServer((req, res) => {
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
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  console.log(`READY ${JSON.stringify({ port: server.address().port })}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
