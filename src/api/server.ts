import type { Server as HttpServer } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import { createAdaptorServer } from "@hono/node-server";
import type { AuditRuntime } from "../app/audit-runtime.js";
import type { AppContext } from "../app/context.js";
import { createApiApp } from "./app.js";

export interface ApiServer {
  server: HttpServer | HttpsServer;
  close(): Promise<void>;
}

/** The control plane on node:http (or https). Not listening: the composition root listens. */
export function createApiServer(
  ctx: AppContext,
  opts: { tls?: { cert: Buffer; key: Buffer }; audit?: AuditRuntime } = {},
): ApiServer {
  const app = createApiApp(ctx, opts.audit ? { audit: opts.audit } : {});
  const server = (
    opts.tls
      ? createAdaptorServer({
          fetch: app.fetch,
          createServer: createHttpsServer,
          serverOptions: { cert: opts.tls.cert, key: opts.tls.key },
        })
      : createAdaptorServer({ fetch: app.fetch })
  ) as HttpServer | HttpsServer;
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
