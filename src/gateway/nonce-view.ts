import type { ServerResponse } from "node:http";
import type { AppContext } from "../app/context.js";
import type { ErrorCode } from "../core/errors.js";
import { nonceStatus } from "../core/nonces.js";
import type { NonceStore } from "../store/store.js";

/**
 * A nonce's own view (DESIGN.md "Agent integrations"): `GET /.well-known/agent-nonce` is answered by the gateway
 * itself, never forwarded and never counted as a use, with what the presented nonce allows: its service, routes,
 * constraints, expiry and uses left — and nothing else (no id, agent, task or metadata: the agent holding the
 * nonce already knows what it needs, and an orchestrator's bookkeeping is not the agent's business). This is how
 * `agent-nonce mcp` names and describes its tools. State is read fresh from the store (uses and revocation are
 * never cached), so a dead nonce gets its 401 here as anywhere else.
 */

export const NONCE_VIEW_PATH = "/.well-known/agent-nonce";

export interface NonceView {
  service: string;
  routes: string[];
  constraints: Record<string, unknown> | null;
  expires_at: string;
  /** null when the nonce has no use limit. */
  uses_left: number | null;
}

export type NonceViewOutcome = { view: NonceView } | { code: ErrorCode; message: string };

/** True for the view's path, with or without a query string (which is ignored). */
export function isNonceViewTarget(url: string | undefined): boolean {
  if (!url?.startsWith(NONCE_VIEW_PATH)) return false;
  const rest = url.length - NONCE_VIEW_PATH.length;
  return rest === 0 || url[NONCE_VIEW_PATH.length] === "?";
}

const DEAD: Record<string, { code: ErrorCode; message: string }> = {
  revoked: { code: "nonce_revoked", message: "nonce has been revoked" },
  exhausted: { code: "nonce_exhausted", message: "nonce has no uses left" },
  expired: { code: "nonce_expired", message: "nonce has expired" },
};

/** Read only: the store's record by token key (a store failure throws, and the caller fails closed with 503). */
export async function nonceView(
  store: NonceStore,
  key: Buffer,
  method: string,
  now: number,
): Promise<NonceViewOutcome> {
  if (method !== "GET" && method !== "HEAD") {
    return { code: "bad_request", message: `${NONCE_VIEW_PATH} answers GET only` };
  }
  const rec = await store.getNonceByKey(key);
  if (!rec) return { code: "nonce_invalid", message: "nonce is not valid" };
  // A delegated nonce is alive only while its lineage is (store/lineage.ts): ask the store for the chain.
  const status = rec.parentId ? ((await store.getNonceStatus(key, now)) ?? "revoked") : nonceStatus(rec, now);
  const dead = DEAD[status];
  if (dead) return dead;
  return {
    view: {
      service: rec.service,
      routes: [...rec.routes],
      constraints: rec.constraints && Object.keys(rec.constraints).length > 0 ? rec.constraints : null,
      expires_at: new Date(rec.expiresAt).toISOString(),
      uses_left: rec.maxUses === null ? null : Math.max(0, rec.maxUses - rec.uses),
    },
  };
}

export function sendNonceView(res: ServerResponse, view: NonceView, requestId: string, head: boolean): void {
  const body = JSON.stringify(view);
  res.writeHead(200, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    "x-agent-nonce-request-id": requestId,
  });
  res.end(head ? undefined : body);
}

/**
 * The gateway's hook: answers the view or rejects through the gateway's own `reject` (same error shape, same
 * metrics). A store failure fails closed with 503, like every other lookup.
 */
export async function serveNonceView(
  ctx: Pick<AppContext<NonceStore>, "store" | "log">,
  f: { res: ServerResponse; method: string; now: number; requestId: string },
  key: Buffer,
  reject: (code: ErrorCode, message: string) => void,
): Promise<void> {
  let out: NonceViewOutcome;
  try {
    out = await nonceView(ctx.store, key, f.method, f.now);
  } catch {
    ctx.log.error({ request_id: f.requestId }, "gateway nonce view lookup failed");
    return reject("unavailable", "the credential store is unavailable");
  }
  if ("code" in out) return reject(out.code, out.message);
  sendNonceView(f.res, out.view, f.requestId, f.method === "HEAD");
}
