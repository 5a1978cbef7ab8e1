import http from "node:http";
import { leanForward } from "./lean-forward.mjs";

/**
 * A leaner Node floor, for reference beside passthrough.mjs: node:http in, undici's dispatch() out with a raw
 * handler (lean-forward.mjs). The gateway's relay (src/gateway/respond.ts) is built the same way.
 * Usage: passthrough-lean.mjs <upstream origin>
 */

const server = http.createServer(leanForward(process.argv[2]));
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  console.log(`READY ${JSON.stringify({ port: server.address().port })}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
