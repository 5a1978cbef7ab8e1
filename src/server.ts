import { readFileSync } from "node:fs";
import type { Server as HttpServer } from "node:http";
import type { Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { createApiServer } from "./api/server.js";
import { expireDue } from "./app/approvals.js";
import { systemDraft } from "./app/audit-draft.js";
import { type AuditRuntime, startAuditRuntime } from "./app/audit-runtime.js";
import { ensureAdminKey, ensureDataDir, loadMasterKeys } from "./app/bootstrap.js";
import type { AppContext } from "./app/context.js";
import { AppEvents } from "./app/events.js";
import { createLogger, type Logger } from "./app/logger.js";
import { createMetrics } from "./app/metrics.js";
import { bridgeReplicaEvents } from "./app/replica-events.js";
import type { Config } from "./config.js";
import { type Clock, systemClock } from "./core/clock.js";
import type { MintedCredentials } from "./gateway/minted/cache.js";
import { createGatewayServer } from "./gateway/server.js";
import { openStore } from "./store/index.js";
import { startChangeFeed } from "./store/postgres-notify.js";

/**
 * The composition root: config in, running listeners out. Everything is built once here and handed down.
 */

export interface RunningServer {
  config: Config;
  ctx: AppContext;
  apiUrl: string | null;
  gatewayUrl: string | null;
  /** The audit runtime (signing key, checkpoints, live feed, sinks). */
  audit: AuditRuntime;
  /** Set only when an admin key was generated on this start; print it once. */
  adminKey: string | null;
  /** The gateway's minted (dynamic) credentials; null without a gateway. Tests drive its expiry sweep. */
  minted: MintedCredentials | null;
  close(): Promise<void>;
}

/** Nonces are kept this long past expiry (their status stays queryable), then pruned; audit keeps the history. */
const NONCE_RETENTION_MS = 24 * 3_600_000;
const CLEANUP_EVERY_MS = 60_000;

function listen(server: HttpServer | HttpsServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * Graceful stop of one listener: no new connections, idle keep-alive sockets closed at once and again as each
 * in-flight request finishes (so a finished one does not wait out its keep-alive), the rest cut at the deadline.
 */
export function drain(server: HttpServer | HttpsServer, timeoutMs: number): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    const sweep = setInterval(() => server.closeIdleConnections(), 25);
    const deadline = setTimeout(() => server.closeAllConnections(), timeoutMs);
    server.close(() => {
      clearInterval(sweep);
      clearTimeout(deadline);
      resolve();
    });
    server.closeIdleConnections();
  });
}

function urlFor(tls: boolean, host: string, port: number): string {
  const h = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
  return `${tls ? "https" : "http"}://${h}:${port}`;
}

/** Every start is on the record, with the role and the key that will sign this replica's checkpoints. */
async function recordStart(ctx: AppContext, kid: string): Promise<void> {
  const now = ctx.clock.now();
  await ctx.store.appendAudit([
    systemDraft(
      "system.started",
      "server",
      "agent-nonce",
      { role: ctx.config.role, store: ctx.store.dialect, audit_signing_kid: kid },
      now,
    ),
  ]);
}

export async function startServer(config: Config, opts: { log?: Logger; clock?: Clock } = {}): Promise<RunningServer> {
  const log = opts.log ?? createLogger(config.logLevel);
  const clock = opts.clock ?? systemClock;
  ensureDataDir(config.dataDir);
  const masterKeys = loadMasterKeys(config);
  const store = await openStore(config, {
    backgroundCheckpoints: true,
    backgroundAuditIndex: true,
    onWarning: (message) => log.warn(message),
  });
  const closers: Array<() => Promise<void>> = [];
  const listeners: Array<HttpServer | HttpsServer> = [];
  const finalClosers: Array<() => Promise<void>> = [];
  let audit: AuditRuntime | null = null;
  try {
    await store.migrate();
    const adminKey = await ensureAdminKey(store, config, clock);
    let ctx: AppContext = {
      config,
      store,
      masterKeys,
      clock,
      log,
      metrics: createMetrics(),
      events: new AppEvents(),
    };
    // Cache invalidations reach every replica on the same PostgreSQL database within milliseconds.
    if (store.dialect === "postgres" && config.databaseUrl) {
      const bridge = bridgeReplicaEvents(ctx.events);
      const feed = startChangeFeed({
        connectionString: config.databaseUrl,
        onChange: bridge.receive,
        onResync: bridge.resync,
        onError: (message) => log.warn({ err: message }, "replica change feed: connection lost, reconnecting"),
      });
      bridge.attach(feed);
      finalClosers.push(async () => {
        bridge.dispose();
        await feed.close();
      });
    }
    // Signing key (refuses a group/world-readable one), checkpoints; closed after the listeners so the final
    // checkpoint covers the gateway's last completion events.
    audit = await startAuditRuntime(ctx);
    await recordStart(ctx, audit.signer.kid);
    const tls =
      config.tlsCert && config.tlsKey
        ? { cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) }
        : undefined;

    // The gateway listens first so that, with port 0, the control plane advertises the port actually bound.
    let gatewayUrl: string | null = null;
    let minted: MintedCredentials | null = null;
    if (config.role !== "api") {
      const gw = createGatewayServer(ctx, tls ? { tls } : {});
      minted = gw.minted;
      closers.push(gw.close);
      listeners.push(gw.server);
      gatewayUrl = urlFor(Boolean(tls), config.host, await listen(gw.server, config.gatewayPort, config.host));
      if (!config.publicGatewayUrl)
        ctx = { ...ctx, config: Object.freeze({ ...config, publicGatewayUrl: gatewayUrl }) };
    }
    let apiUrl: string | null = null;
    if (config.role !== "gateway") {
      const api = createApiServer(ctx, { ...(tls ? { tls } : {}), audit });
      closers.push(api.close);
      listeners.push(api.server);
      apiUrl = urlFor(Boolean(tls), config.host, await listen(api.server, config.apiPort, config.host));
    }

    const cleanup = setInterval(() => {
      store.deleteExpiredNonces(clock.now() - NONCE_RETENTION_MS, 10_000).catch((e: unknown) => {
        log.warn({ err: (e as Error).message }, "expired nonce cleanup failed");
      });
      // Unanswered approval requests expire as denied even when nobody reads them (approval.expired).
      if (config.role !== "gateway") {
        expireDue(ctx).catch((e: unknown) => {
          log.warn({ err: (e as Error).message }, "approval expiry sweep failed");
        });
      }
    }, CLEANUP_EVERY_MS);
    cleanup.unref();

    log.info({ api: apiUrl, gateway: gatewayUrl, store: store.dialect, role: config.role }, "agent-nonce started");
    let closed: Promise<void> | null = null;
    const running = audit;
    return {
      config,
      ctx,
      apiUrl,
      gatewayUrl,
      audit: running,
      adminKey,
      minted,
      close() {
        closed ??= (async () => {
          clearInterval(cleanup);
          audit?.endStreams();
          // Stop accepting and let in-flight requests finish (bounded) before their audit is flushed.
          await Promise.all(listeners.map((l) => drain(l, config.drainTimeout)));
          await Promise.allSettled(closers.map((c) => c()));
          await audit?.close();
          await Promise.allSettled(finalClosers.map((c) => c()));
          await store.close();
        })();
        return closed;
      },
    };
  } catch (e) {
    await Promise.allSettled(closers.map((c) => c()));
    await Promise.allSettled(finalClosers.map((c) => c()));
    await audit?.close().catch(() => undefined);
    await store.close().catch(() => undefined);
    throw e;
  }
}
