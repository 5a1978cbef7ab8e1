import type { IncomingMessage, ServerResponse } from "node:http";
import type { Readable } from "node:stream";
import { nonceDraft } from "../app/audit-draft.js";
import type { AppContext } from "../app/context.js";
import { open } from "../core/crypto.js";
import { newId } from "../core/ids.js";
import { isWellFormed, tokenKey } from "../core/tokens.js";
import type { AuditDraft, AuditType, NonceRecord } from "../core/types.js";
import type { RejectReason } from "../store/store.js";
import type { GatewayCaches, NonceInfo, ServiceEntry } from "./caches.js";
import { canonicalizeTarget } from "./canonical-path.js";
import type { CompletionLog } from "./completion-log.js";
import { BODY_CAP, enforceConstraints } from "./constraint-gate.js";
import { extractNonce } from "./credentials-carrier.js";
import { GatewayReject, sendError } from "./errors.js";
import { BodyLimit, type Forwarder, upstreamFailure } from "./forward.js";
import { filterRequestHeaders } from "./headers.js";
import { injectCredential, stripQueryParam } from "./inject.js";
import { isNonceViewTarget, serveNonceView } from "./nonce-view.js";
import { RateLimiter } from "./rate-limiter.js";
import { RelayHandler, UnrelayableResponse } from "./respond.js";
import { wipeNeedles } from "./scrub.js";
import { originUnchanged } from "./upstream.js";

/**
 * One gateway request, top to bottom: nonce → path → headers → (cached) nonce lookup → scope → service →
 * concurrency → rate → constraints (query, then body: read only when a body constraint applies) → atomic consume
 * (+ audit, fail closed) → decrypt + inject → forward → scrubbed relay → completion audit. Every rejection
 * happens before anything is sent upstream, and before the credential is decrypted. Scope, rate and constraint
 * denials come before consuming, so they never count a use.
 */

const METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

interface Flow {
  req: IncomingMessage;
  res: ServerResponse;
  requestId: string;
  now: number;
  started: number;
  method: string;
  path: string;
  /** Read once at the start: by the time `nonce.completed` is written, node may have detached the socket. */
  sourceIp: string | null;
  service: string;
  nonce: NonceInfo | null;
}

export function createHandler(
  ctx: AppContext,
  caches: GatewayCaches,
  forwarder: Forwarder,
  completions: CompletionLog,
) {
  const cfg = ctx.config.gateway;
  const m = ctx.metrics;
  const inflight = new Map<string, number>();
  const limiter = new RateLimiter();
  const bodyCap = Math.min(cfg.maxBodyBytes, BODY_CAP);

  const draft = (
    f: Flow,
    type: AuditType,
    n: NonceInfo | NonceRecord,
    reason: string | null,
    now = f.now,
    request: AuditDraft["request"] = { method: f.method, path: f.path, status: null, duration_ms: null, bytes: null },
  ): AuditDraft => nonceDraft(type, n, reason, request, { now, sourceIp: f.sourceIp, requestId: f.requestId });

  const reject = (f: Flow, code: GatewayReject["code"], message: string, retryAfterS?: number) => {
    m.gatewayRequests.inc({ service: f.service, outcome: code });
    if (code === "payload_too_large") f.res.shouldKeepAlive = false;
    sendError(f.res, code, message, f.requestId, retryAfterS);
  };

  /** A denial before consuming: audited as nonce.rejected, best effort (the request is refused either way). */
  const auditRejected = async (f: Flow, n: NonceInfo, reason: string, data?: Record<string, unknown>) => {
    const d = draft(f, "nonce.rejected", n, reason);
    if (data) d.data = { ...d.data, ...data };
    try {
      await ctx.store.appendAudit([d]);
    } catch (e) {
      m.auditWriteFailures.inc();
      ctx.log.error({ err: errName(e), request_id: f.requestId }, "gateway audit write failed");
    }
  };

  async function run(f: Flow): Promise<void> {
    const { req, res } = f;
    if (!METHODS.has(f.method)) return reject(f, "bad_request", "unsupported HTTP method");
    const carrier = extractNonce(req.rawHeaders);
    if ("missing" in carrier) return reject(f, "nonce_missing", "no nonce presented");
    if ("conflict" in carrier) return reject(f, "bad_request", "more than one nonce presented");
    if (!isWellFormed(carrier.token, "an")) return reject(f, "nonce_invalid", "nonce is not valid");
    // The nonce's own view: answered here, never forwarded, no use counted (nonce-view.ts).
    if (isNonceViewTarget(req.url)) {
      return serveNonceView(ctx, f, tokenKey(carrier.token), (code, msg) => reject(f, code, msg));
    }
    const target = canonicalizeTarget(req.url ?? "");
    if ("error" in target) return reject(f, "bad_request", target.error);
    f.path = target.path;
    const filtered = filterRequestHeaders(req.rawHeaders);
    if ("error" in filtered) return reject(f, "bad_request", filtered.error);
    if (filtered.contentLength > cfg.maxBodyBytes) {
      return reject(f, "payload_too_large", "request body exceeds the gateway limit");
    }

    const key = tokenKey(carrier.token);
    let info: NonceInfo | undefined;
    try {
      const got = caches.nonce(key);
      info = got instanceof Promise ? await got : got;
    } catch (e) {
      ctx.log.error({ err: errName(e), request_id: f.requestId }, "gateway nonce lookup failed");
      return reject(f, "unavailable", "the credential store is unavailable");
    }
    if (!info) return reject(f, "nonce_invalid", "nonce is not valid");
    f.service = info.service;
    f.nonce = info;

    const allowed =
      info.matcher.match(f.method, target.segments) ||
      (f.method === "HEAD" && info.matcher.match("GET", target.segments));
    if (!allowed) {
      await auditRejected(f, info, "scope_denied");
      return reject(f, "scope_denied", `${f.method} ${target.path} is outside this nonce's scope`);
    }

    let svc: ServiceEntry | undefined;
    try {
      const got = caches.service(info.service);
      svc = got instanceof Promise ? await got : got;
    } catch (e) {
      ctx.log.error({ err: errName(e), request_id: f.requestId }, "gateway service lookup failed");
      return reject(f, "unavailable", "the credential store is unavailable");
    }
    if (!svc) return reject(f, "upstream_error", "the nonce's service is not configured");
    if ("error" in svc.upstream) return reject(f, "upstream_error", svc.upstream.error);
    const service = svc.record;
    const upstream = svc.upstream;
    if (!service.credential) return reject(f, "credential_missing", "the service has no credential set");
    const headers = filtered.headers;
    let query = target.query;
    if (service.auth.type === "header" && service.auth.name) delete headers[service.auth.name.toLowerCase()];
    if (service.auth.type === "query" && service.auth.name) query = stripQueryParam(query, service.auth.name);

    const nonceId = info.id;
    const running = inflight.get(nonceId) ?? 0;
    if (running >= cfg.maxConcurrentPerNonce) {
      return reject(f, "rate_limited", "too many concurrent requests for this nonce", 1);
    }
    inflight.set(nonceId, running + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const n = (inflight.get(nonceId) ?? 1) - 1;
      if (n <= 0) inflight.delete(nonceId);
      else inflight.set(nonceId, n);
    };
    res.once("close", release);

    if (info.rate) {
      const waitMs = limiter.take(nonceId, info.rate, info.expiresAt, f.now);
      if (waitMs > 0) {
        await auditRejected(f, info, "rate_limited");
        const retryAfterS = Math.max(1, Math.ceil(waitMs / 1000));
        return reject(f, "rate_limited", "this nonce's rate limit is exceeded", retryAfterS);
      }
    }

    let body: Buffer | null = null;
    const applied = info.constraints?.forRoute(f.method, target.segments) ?? null;
    if (applied) {
      const gate = await enforceConstraints(applied, req, target.query, filtered, bodyCap);
      if ("unreadable" in gate) return reject(f, "bad_request", "the request body could not be read");
      if ("tooLarge" in gate) return reject(f, "payload_too_large", "request body exceeds the gateway limit");
      if ("field" in gate) {
        await auditRejected(f, info, "constraint_failed", { field: gate.field });
        return reject(f, "constraint_failed", `request field ${gate.field} does not satisfy this nonce's constraints`);
      }
      body = gate.body;
    }

    let consumed: Awaited<ReturnType<AppContext["store"]["consumeNonce"]>>;
    // Pending nonce.completed events join this consume's group-committed transaction (see CompletionLog).
    completions.beforeWrite();
    try {
      consumed = await ctx.store.consumeNonce(
        key,
        f.now,
        (n) => draft(f, "nonce.used", n, null),
        (reason: RejectReason, n) => (n ? draft(f, "nonce.rejected", n, reason) : null),
      );
    } catch (e) {
      m.auditWriteFailures.inc();
      ctx.log.error({ err: errName(e), request_id: f.requestId }, "gateway consume failed (fail closed)");
      return reject(f, "unavailable", "the credential store is unavailable");
    }
    if (!consumed.ok) return reject(f, consumed.reason, rejectMessage(consumed.reason));

    // Every check passed and the use is on the audit log: only now is the credential decrypted.
    let needles: Buffer[];
    try {
      const secret = open(ctx.masterKeys, service.name, service.credential);
      try {
        const injected = injectCredential(service.auth, secret, headers, query);
        query = injected.query;
        needles = injected.needles;
      } finally {
        secret.fill(0);
      }
    } catch (e) {
      if (e instanceof GatewayReject) return reject(f, e.code, e.message);
      ctx.log.error({ err: errName(e), request_id: f.requestId }, "gateway could not open the credential");
      return reject(f, "internal", "the service credential could not be used");
    }
    try {
      await forward(f, upstream.origin, upstream.insecure, target.path, query, headers, filtered, body, needles);
    } finally {
      wipeNeedles(needles);
    }
  }

  async function forward(
    f: Flow,
    origin: string,
    insecure: boolean,
    path: string,
    query: string,
    headers: Record<string, string>,
    framing: { contentLength: number; chunked: boolean },
    buffered: Buffer | null,
    needles: Buffer[],
  ): Promise<void> {
    const { req, res } = f;
    const pathAndQuery = query.length > 0 ? `${path}?${query}` : path;
    if (!originUnchanged(origin, pathAndQuery)) return reject(f, "bad_request", "request target changes the origin");
    let body: Readable | Buffer | null = null;
    if (buffered) body = buffered.length > 0 ? buffered : null;
    else if (framing.chunked) body = req.pipe(new BodyLimit(cfg.maxBodyBytes));
    else if (framing.contentLength > 0) body = req;
    const relay = new RelayHandler(res, f.method, needles);
    const sentAt = performance.now();
    forwarder.dispatch(
      { origin, insecure },
      { origin, path: pathAndQuery, method: f.method as "GET", headers, body },
      relay,
    );
    const outcome = await relay.outcome;
    if (relay.headersAt > 0) {
      m.gatewayUpstreamSeconds.observe({ service: f.service }, (relay.headersAt - sentAt) / 1000);
    }
    switch (outcome.kind) {
      case "failed": {
        if (res.destroyed) return;
        const e = outcome.error;
        if (e instanceof UnrelayableResponse) {
          reject(f, "upstream_error", "the upstream sent a response the gateway cannot relay");
        } else {
          const failure = upstreamFailure(e);
          ctx.log.warn({ err: errName(e), request_id: f.requestId, service: f.service }, "gateway upstream failed");
          reject(f, failure.code, failure.message);
        }
        // The use was counted and audited as nonce.used: close it with the outcome the agent saw.
        return completed(f, res.statusCode, 0);
      }
      case "blocked":
        m.secretsScrubbed.inc({ service: f.service, action: "blocked" });
        reject(f, "upstream_error", "the upstream used a content-encoding the gateway cannot inspect");
        return completed(f, res.statusCode, 0);
      case "relayed":
        if (outcome.scrubbed > 0) m.secretsScrubbed.inc({ service: f.service, action: "redacted" }, outcome.scrubbed);
        m.gatewayRequests.inc({ service: f.service, outcome: "forwarded" });
        return completed(f, outcome.status, outcome.bytes);
    }
  }

  /** The `nonce.completed` event is queued after the response (batched, off the response path; see CompletionLog). */
  function completed(f: Flow, status: number, bytes: number): void {
    if (!f.nonce) return;
    const durationMs = Math.round((performance.now() - f.started) * 1000) / 1000;
    const request = { method: f.method, path: f.path, status, duration_ms: durationMs, bytes };
    completions.push(draft(f, "nonce.completed", f.nonce, null, ctx.clock.now(), request));
  }

  return function handle(req: IncomingMessage, res: ServerResponse): void {
    const now = ctx.clock.now();
    const f: Flow = {
      req,
      res,
      requestId: newId("req", now),
      now,
      started: performance.now(),
      method: req.method ?? "",
      path: "",
      sourceIp: req.socket.remoteAddress ?? null,
      service: "",
      nonce: null,
    };
    req.on("error", noop);
    res.on("error", noop);
    m.gatewayInFlight.inc();
    res.once("close", () => m.gatewayInFlight.dec());
    run(f).catch((e: unknown) => {
      if (e instanceof GatewayReject) return reject(f, e.code, e.message);
      ctx.log.error({ err: errName(e), request_id: f.requestId }, "gateway request failed");
      if (res.headersSent) res.destroy();
      else reject(f, "internal", "internal error");
    });
  };
}

function noop(): void {}

/** Only the error's class/code reaches logs: messages from I/O layers can carry URLs. */
function errName(e: unknown): string {
  if (e && typeof e === "object") {
    const code = (e as { code?: unknown }).code;
    const name = (e as { name?: unknown }).name;
    return `${typeof name === "string" ? name : "Error"}${typeof code === "string" ? ` ${code}` : ""}`;
  }
  return typeof e;
}

function rejectMessage(reason: RejectReason): string {
  switch (reason) {
    case "nonce_invalid":
      return "nonce is not valid";
    case "nonce_expired":
      return "nonce has expired";
    case "nonce_revoked":
      return "nonce has been revoked";
    case "nonce_exhausted":
      return "nonce has no uses left";
  }
}
