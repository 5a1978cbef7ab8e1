import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import type { AppContext } from "../app/context.js";
import { newId } from "../core/ids.js";
import { createAwsGateway } from "./aws/index.js";
import { GatewayCaches } from "./caches.js";
import { CompletionLog } from "./completion-log.js";
import { DeadNonceLog } from "./dead-nonce-log.js";
import { writeRawError } from "./errors.js";
import { createForwarder } from "./forward.js";
import type { MintedCredentials } from "./minted/cache.js";
import { createMinted } from "./minted/index.js";
import { pipelineDeps } from "./pipeline/deps.js";
import { createPipeline } from "./pipeline/run.js";
import { answerProbe, isProbe } from "./probes.js";

/**
 * The gateway listener (data plane). node:http with its options set on purpose (rules 6 and 8): strict parser
 * (`insecureHTTPParser: false`, so obs-fold, bare LF, duplicate Content-Length and friends are rejected by
 * llhttp), header size from config (over it → 431 with our JSON error), bounded request/header timeouts and
 * keep-alive. Parser errors and reset sockets are answered or dropped in 'clientError'; nothing on a socket can
 * throw out of here. Not listening: the composition root calls `server.listen`.
 */

// How long a client may take to send its headers / its whole request.
const CLIENT_HEADERS_TIMEOUT_MS = 10_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;

export interface GatewayServer {
  server: http.Server | https.Server;
  minted: MintedCredentials;
  close(): Promise<void>;
}

export function createGatewayServer(
  ctx: AppContext,
  opts: { tls?: { cert: Buffer; key: Buffer } } = {},
): GatewayServer {
  const cfg = ctx.config.gateway;
  const caches = new GatewayCaches(ctx);
  const forwarder = createForwarder(cfg);
  const completions = new CompletionLog(ctx);
  const aws = createAwsGateway(ctx);
  const deadLog = new DeadNonceLog(ctx);
  const { minted, http: issuerHttp } = createMinted(ctx);
  const handleNonce = createPipeline(pipelineDeps(ctx, { caches, forwarder, completions, deadLog, minted, aws }));
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    if (isProbe(req)) answerProbe(ctx, req, res).catch(() => res.destroy());
    else handleNonce(req, res);
  };
  const options: http.ServerOptions = {
    maxHeaderSize: cfg.maxHeaderBytes,
    insecureHTTPParser: false,
    requestTimeout: Math.max(cfg.bodyTimeoutMs, CLIENT_HEADERS_TIMEOUT_MS + 1),
    headersTimeout: CLIENT_HEADERS_TIMEOUT_MS,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    keepAlive: true,
    noDelay: true,
    requireHostHeader: true,
    joinDuplicateHeaders: false,
  };
  const server = opts.tls
    ? https.createServer({ ...options, cert: opts.tls.cert, key: opts.tls.key }, handler)
    : http.createServer(options, handler);

  server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable || err.code === "ECONNRESET" || err.code === "EPIPE") {
      socket.destroy();
      return;
    }
    const requestId = newId("req", ctx.clock.now());
    ctx.metrics.gatewayRequests.inc({ service: "", outcome: clientErrorCode(err) });
    if (err.code === "HPE_HEADER_OVERFLOW") {
      writeRawError(socket, "headers_too_large", "request headers exceed the gateway limit", requestId);
    } else if (err.code === "ERR_HTTP_REQUEST_TIMEOUT" || err.code === "ERR_HTTP_HEADERS_TIMEOUT") {
      writeRawError(socket, "bad_request", "request timed out", requestId, 408);
    } else {
      writeRawError(socket, "bad_request", "malformed HTTP request", requestId);
    }
  });
  // CONNECT is never proxied (rule 1: the gateway only reaches the service's own origin): an explicit 400 with
  // our error shape, then the connection is closed, so a client cannot mistake silence for a tunnel.
  server.on("connect", (_req: http.IncomingMessage, socket: Socket) => {
    ctx.metrics.gatewayRequests.inc({ service: "", outcome: "bad_request" });
    writeRawError(socket, "bad_request", "CONNECT is not supported", newId("req", ctx.clock.now()));
  });

  return {
    server,
    minted,
    async close() {
      caches.dispose();
      // Coalesced dead-nonce counts still in their window are written now, not lost.
      await Promise.all([completions.flush(), deadLog.close()]);
      await minted.close();
      await forwarder.close();
      await issuerHttp.close();
      await aws.close();
    },
  };
}

function clientErrorCode(err: NodeJS.ErrnoException): string {
  if (err.code === "HPE_HEADER_OVERFLOW") return "headers_too_large";
  return "bad_request";
}
