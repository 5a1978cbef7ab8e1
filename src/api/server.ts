import {
  createServer as createHttpServer,
  type Server as HttpServer,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import { getRequestListener } from "@hono/node-server";
import type { AuditRuntime } from "../app/audit-runtime.js";
import type { AppContext } from "../app/context.js";
import { createApi } from "./app.js";

export interface ApiServer {
  server: HttpServer | HttpsServer;
  close(): Promise<void>;
}

/** The control plane on node:http (or https). Not listening: the composition root listens. */
export function createApiServer(
  ctx: AppContext,
  opts: { tls?: { cert: Buffer; key: Buffer }; audit?: AuditRuntime } = {},
): ApiServer {
  const { app, fastIssue } = createApi(ctx, opts.audit ? { audit: opts.audit } : {});
  const hono = getRequestListener(app.fetch);
  // The plain `POST /v1/nonces` skips the WHATWG Request/Response conversion (see fast-issue.ts).
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    if (!fastIssue(req, res)) void hono(req, res);
  };
  const server: HttpServer | HttpsServer = opts.tls
    ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, listener)
    : createHttpServer(listener);
  // Bounded waits so a slow client cannot hold a socket forever.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  let closing: Promise<void> | null = null;
  return {
    server,
    close() {
      closing ??= new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}
