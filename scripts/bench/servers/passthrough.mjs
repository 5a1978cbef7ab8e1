import http from "node:http";
import { pipeline } from "node:stream/promises";
import { Agent } from "undici";

/**
 * The Node floor for the gateway: node:http in, undici out, no checks. Forwards method, path and the request
 * headers (minus hop-by-hop), adds one static header, streams the body back. Usage: passthrough.mjs <upstream origin>
 */

const origin = process.argv[2];
const agent = new Agent({ keepAliveTimeout: 60_000, connections: 128 });
const HOP = new Set(["connection", "keep-alive", "transfer-encoding", "te", "upgrade", "host", "proxy-connection"]);

const server = http.createServer(async (req, res) => {
  const headers = {};
  for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k)) headers[k] = v;
  headers.authorization = "Bearer static-bench-credential";
  try {
    const up = await agent.request({
      origin,
      path: req.url,
      method: req.method,
      headers,
      body: req.method === "GET" || req.method === "HEAD" ? null : req,
    });
    const out = {};
    for (const [k, v] of Object.entries(up.headers)) if (!HOP.has(k)) out[k] = v;
    res.writeHead(up.statusCode, out);
    await pipeline(up.body, res);
  } catch {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  }
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  console.log(`READY ${JSON.stringify({ port: server.address().port })}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
