import type { IncomingMessage, ServerResponse } from "node:http";
import type { AppContext } from "../app/context.js";
import { checkReadiness } from "../app/readiness.js";
import { newId } from "../core/ids.js";
import type { StoreLifecycle } from "../store/store.js";
import { sendError } from "./errors.js";

/**
 * Health probes on the gateway listener, for load balancers and Docker's HEALTHCHECK of gateway-only replicas:
 * `GET|HEAD /healthz` (the process answers) and `GET|HEAD /readyz` (the store answers and is migrated).
 *
 * Answered before any nonce logic, but only for a request that carries no credential at all: a probe never
 * does, while an agent calling its upstream's own `/healthz` with a nonce must still reach it (the gateway's
 * paths are the upstream's paths). So the probe cannot be used to skip a nonce check, and it never touches one.
 */
const PROBES = new Set(["/healthz", "/readyz"]);

export function isProbe(req: IncomingMessage): boolean {
  return (
    (req.method === "GET" || req.method === "HEAD") &&
    PROBES.has(req.url ?? "") &&
    req.headers.authorization === undefined &&
    req.headers["x-agent-nonce"] === undefined &&
    req.headers["proxy-authorization"] === undefined &&
    req.headers.cookie === undefined
  );
}

export async function answerProbe(
  ctx: AppContext<StoreLifecycle>,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const requestId = newId("req", ctx.clock.now());
  if (req.url === "/readyz") {
    const r = await checkReadiness(ctx.store);
    if (!r.ready) {
      const message = r.reason === "store_unreachable" ? "store is unavailable" : "store schema is not current";
      sendError(res, "unavailable", message, requestId);
      return;
    }
  }
  const body = JSON.stringify(
    req.url === "/readyz" ? { status: "ready", store: ctx.store.dialect } : { status: "ok", role: ctx.config.role },
  );
  res.writeHead(200, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    "x-agent-nonce-request-id": requestId,
  });
  res.end(req.method === "HEAD" ? undefined : body);
}
