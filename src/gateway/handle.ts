import type { IncomingMessage, ServerResponse } from "node:http";
import type { Readable } from "node:stream";
import { nonceDraft } from "../app/audit-draft.js";
import type { AppContext } from "../app/context.js";
import { newId } from "../core/ids.js";
import { isWellFormed, tokenKey } from "../core/tokens.js";
import type { AuditDraft, AuditType, NonceRecord } from "../core/types.js";
import type { RejectReason } from "../store/store.js";
import { createAwsFlow, isSigV4 } from "./aws/handle-aws.js";
import type { AwsGateway } from "./aws/index.js";
import type { AwsNonceInfo } from "./aws/nonce-lookup.js";
import type { ResponseTransform } from "./body-transform.js";
import type { GatewayCaches, NonceInfo, ServiceEntry } from "./caches.js";
import { canonicalizeTarget } from "./canonical-path.js";
import type { CompletionLog } from "./completion-log.js";
import { BODY_CAP, enforceGate } from "./constraint-gate.js";
import { extractNonce } from "./credentials-carrier.js";
import type { DeadNonceLog } from "./dead-nonce-log.js";
import { type DeadReason, deadReason, isDeadReason } from "./dead-nonces.js";
import { GatewayReject, sendError } from "./errors.js";
import { BodyLimit, type Forwarder, upstreamFailure } from "./forward.js";
import { filterRequestHeaders } from "./headers.js";
import { stripQueryParam } from "./inject.js";
import { gateMcpRequest } from "./mcp/request-gate.js";
import type { Lease, MintedCredentials } from "./minted/cache.js";
import { type CredentialMinter, CredentialUnavailable, type MintNonce } from "./minted/types.js";
import { isNonceViewTarget, serveNonceView } from "./nonce-view.js";
import { RateLimiter } from "./rate-limiter.js";
import { RelayHandler, UnrelayableResponse } from "./respond.js";
import { wipeNeedles } from "./scrub.js";
import { Tripwires } from "./tripwires.js";
import { originUnchanged } from "./upstream.js";

/**
 * One gateway request, top to bottom: nonce → path → headers → (cached) nonce lookup → dead? → scope → service →
 * concurrency → rate → constraints and `_method` (constraint-gate.ts: the body is read only when needed) → atomic
 * consume
 * (+ audit, fail closed) → decrypt + inject → forward → scrubbed relay → completion audit. Every rejection
 * happens before anything is sent upstream, and before the credential is decrypted. Scope, rate and constraint
 * denials come before consuming, so they never count a use.
 *
 * Dead nonces (SECURITY.md rule 14) get their own 401 before any scope, limit or constraint answer: one known dead
 * in this process, or past its cached expiry, is refused at once; any other denial before the consume first reads
 * the nonce's live status, so a dead nonce never learns its scope or limits. Their `nonce.rejected` events are
 * coalesced (dead-nonce-log.ts), never written in the consume's transaction.
 */

const METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

export interface Flow {
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
  /** Rewrites the answer before scrubbing (MCP services: tools/list filtering). */
  transform?: ResponseTransform;
}

export function createHandler(
  ctx: AppContext,
  caches: GatewayCaches,
  forwarder: Forwarder,
  completions: CompletionLog,
  deadLog: DeadNonceLog,
  minted: MintedCredentials | null = null,
  aws: AwsGateway | null = null,
) {
  const cfg = ctx.config.gateway;
  const m = ctx.metrics;
  const inflight = new Map<string, number>();
  const limiter = new RateLimiter();
  const bodyCap = Math.min(cfg.maxBodyBytes, BODY_CAP);
  const tripwires = new Tripwires(ctx);
  const presented = (f: Flow) => ({
    method: f.method,
    rawUrl: f.req.url,
    sourceIp: f.sourceIp,
    now: f.now,
    requestId: f.requestId,
  });

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

  /** The 401 of a dead nonce: counted, coalesced in the audit log (the first of a window is written first). */
  const refuseDead = async (f: Flow, n: NonceInfo, reason: DeadReason) => {
    m.deadNoncePresentations.inc({ reason });
    await tripwires.dead(n, reason, presented(f));
    const first = deadLog.present({
      nonce: n,
      reason,
      now: f.now,
      method: f.method,
      path: f.path,
      sourceIp: f.sourceIp,
      requestId: f.requestId,
    });
    if (first) await first;
    reject(f, reason, rejectMessage(reason));
  };

  /**
   * Before any denial short of the consume (scope, service, concurrency, rate, constraints): a fresh read of the
   * nonce's status, so a dead nonce gets its 401 instead of an answer about its scope or limits. True when the
   * request was answered here (dead, gone, or the store unreachable: fail closed).
   */
  const answeredDead = async (f: Flow, key: Buffer, n: NonceInfo): Promise<boolean> => {
    let status: Awaited<ReturnType<AppContext["store"]["getNonceStatus"]>>;
    try {
      status = await ctx.store.getNonceStatus(key, f.now);
    } catch (e) {
      ctx.log.error({ err: errName(e), request_id: f.requestId }, "gateway nonce status read failed");
      reject(f, "unavailable", "the credential store is unavailable");
      return true;
    }
    if (status === undefined) {
      reject(f, "nonce_invalid", "nonce is not valid");
      return true;
    }
    const reason = deadReason(status);
    if (reason === null) return false;
    caches.dead.mark(n.id, reason);
    await refuseDead(f, n, reason);
    return true;
  };

  /** Per-nonce concurrency, then rate, before consuming (no use counted); false when the request was answered. */
  const admit = async (f: Flow, info: NonceInfo, key: Buffer): Promise<boolean> => {
    const nonceId = info.id;
    const running = inflight.get(nonceId) ?? 0;
    if (running >= cfg.maxConcurrentPerNonce) {
      if (!(await answeredDead(f, key, info))) {
        reject(f, "rate_limited", "too many concurrent requests for this nonce", 1);
      }
      return false;
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
    f.res.once("close", release);
    if (info.rate) {
      const waitMs = limiter.take(nonceId, info.rate, info.expiresAt, f.now);
      if (waitMs > 0) {
        if (await answeredDead(f, key, info)) return false;
        await auditRejected(f, info, "rate_limited");
        reject(f, "rate_limited", "this nonce's rate limit is exceeded", Math.max(1, Math.ceil(waitMs / 1000)));
        return false;
      }
    }
    return true;
  };

  /** The atomic consume with `nonce.used` (fail closed): the nonce when the use counted, else the code answered. */
  const consume = async (
    f: Flow,
    key: Buffer,
    info: NonceInfo,
  ): Promise<NonceRecord | RejectReason | "unavailable"> => {
    let consumed: Awaited<ReturnType<AppContext["store"]["consumeNonce"]>>;
    // Pending nonce.completed events join this consume's group-committed transaction (see CompletionLog).
    completions.beforeWrite();
    try {
      consumed = await ctx.store.consumeNonce(
        key,
        f.now,
        (n) => draft(f, "nonce.used", n, null),
        // A dead nonce's event is coalesced outside this transaction (refuseDead): a replayed leak must not
        // compete for the store's writer. Only the "changed under us" nonce_invalid is written here.
        (reason: RejectReason, n) => (n && !isDeadReason(reason) ? draft(f, "nonce.rejected", n, reason) : null),
      );
    } catch (e) {
      m.auditWriteFailures.inc();
      ctx.log.error({ err: errName(e), request_id: f.requestId }, "gateway consume failed (fail closed)");
      reject(f, "unavailable", "the credential store is unavailable");
      return "unavailable";
    }
    if (consumed.ok) {
      tripwires.noteUse(info.id, f.sourceIp);
      return consumed.nonce;
    }
    const reason = consumed.reason;
    if (!isDeadReason(reason)) {
      reject(f, reason, rejectMessage(reason));
      return reason;
    }
    caches.dead.mark(info.id, reason);
    await refuseDead(f, info, reason);
    return reason;
  };

  const runAws = aws
    ? createAwsFlow<Flow>({
        ctx,
        caches,
        nonces: aws.nonces,
        sessions: aws.sessions,
        bodyCap,
        reject,
        auditRejected,
        admit: (f, info) => admit(f, info, (info as AwsNonceInfo).tokenKey),
        consume: async (f, key) => {
          if (!f.nonce) return "nonce_invalid";
          const n = await consume(f, key, f.nonce);
          return typeof n === "string" ? n : null;
        },
        forward: (...args) => forward(...args),
      })
    : null;

  async function run(f: Flow): Promise<void> {
    const { req } = f;
    if (!METHODS.has(f.method)) return reject(f, "bad_request", "unsupported HTTP method");
    // An AWS SDK signs with the nonce's AWS key pair instead of presenting the token (see gateway/aws/).
    if (runAws && isSigV4(req.headers.authorization)) return runAws(f);
    // llhttp takes "GET /x\r\n" (no version) as HTTP/0.9 and still reads headers after it: refuse (rule 6).
    if (req.httpVersionMajor !== 1) return reject(f, "bad_request", "unsupported HTTP version");
    const carrier = extractNonce(req.rawHeaders);
    if ("missing" in carrier) return reject(f, "nonce_missing", "no nonce presented");
    if ("conflict" in carrier) return reject(f, "bad_request", "more than one nonce presented");
    if (!isWellFormed(carrier.token, "an")) return reject(f, "nonce_invalid", "nonce is not valid");
    const key = tokenKey(carrier.token);
    // Looked up before anything else can answer, so a canary is refused and alerted on whatever the request is
    // (tripwires.ts); a lookup failure is answered (503) where it always was, after the path and header checks.
    let info: NonceInfo | undefined;
    let lookupFailed = false;
    try {
      const got = caches.nonce(key);
      info = got instanceof Promise ? await got : got;
    } catch (e) {
      ctx.log.error({ err: errName(e), request_id: f.requestId }, "gateway nonce lookup failed");
      lookupFailed = true;
    }
    if (info?.canary) {
      await tripwires.trip(info, presented(f));
      return reject(f, "nonce_invalid", "nonce is not valid");
    }
    // The nonce's own view: answered here, never forwarded, no use counted (nonce-view.ts).
    if (isNonceViewTarget(req.url)) {
      return serveNonceView(ctx, f, key, (code, msg) => reject(f, code, msg));
    }
    const target = canonicalizeTarget(req.url ?? "");
    if ("error" in target) return reject(f, "bad_request", target.error);
    f.path = target.path;
    const filtered = filterRequestHeaders(req.rawHeaders);
    if ("error" in filtered) return reject(f, "bad_request", filtered.error);
    if (filtered.contentLength > cfg.maxBodyBytes) {
      return reject(f, "payload_too_large", "request body exceeds the gateway limit");
    }

    if (lookupFailed) return reject(f, "unavailable", "the credential store is unavailable");
    if (!info) return reject(f, "nonce_invalid", "nonce is not valid");
    f.service = info.service;
    f.nonce = info;
    const dead = caches.dead.reasonOf(info, f.now);
    if (dead) return refuseDead(f, info, dead);

    // Segments from an encoded '/' on may only fall in a route's final `**` (see core/scopes.ts); target.path,
    // what is forwarded, is the decoded form that was matched.
    const tail = target.encodedSlashFrom;
    const allowed =
      info.matcher.match(f.method, target.segments, tail) ||
      (f.method === "HEAD" && info.matcher.match("GET", target.segments, tail));
    if (!allowed) {
      if (await answeredDead(f, key, info)) return;
      await auditRejected(f, info, "scope_denied");
      const hint = tail < target.segments.length ? " (an encoded '/' is accepted only in a route's final **)" : "";
      return reject(f, "scope_denied", `${f.method} ${target.path} is outside this nonce's scope${hint}`);
    }

    let svc: ServiceEntry | undefined;
    try {
      const got = caches.service(info.service);
      svc = got instanceof Promise ? await got : got;
    } catch (e) {
      ctx.log.error({ err: errName(e), request_id: f.requestId }, "gateway service lookup failed");
      return reject(f, "unavailable", "the credential store is unavailable");
    }
    // A deleted service revoked its nonces: the dead check tells the agent so, not that the service is gone.
    if (!svc || "error" in svc.upstream || !svc.record.credential) {
      if (await answeredDead(f, key, info)) return;
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
    const dynamic = mintedFor(service.auth.type, minted);
    if (dynamic === "unsupported") return reject(f, "upstream_error", "this service's auth type is not supported here");
    if (dynamic?.minter.authorize) {
      const refusal = dynamic.minter.authorize(mintNonce(info), service, {
        method: f.method,
        path: target.path,
        query,
        headers,
        body: null,
      });
      if (refusal) {
        await auditRejected(f, info, refusal.code, refusal.data);
        return reject(f, refusal.code, refusal.message);
      }
    }

    if (!(await admit(f, info, key))) return;

    let body: Buffer | null = null;
    // MCP services: each JSON-RPC message is checked against the nonce's tool scopes (gateway/mcp/).
    if (service.template === "mcp") {
      const gate = await gateMcpRequest(info.scopes, f.method, req, filtered, bodyCap);
      if ("refuse" in gate) {
        if (gate.refuse !== "bad_request" && (await answeredDead(f, key, info))) return;
        if (gate.audit) await auditRejected(f, info, gate.refuse, gate.audit);
        return reject(f, gate.refuse, gate.message);
      }
      body = gate.body;
      f.transform = gate.transform;
    }

    const gate = await enforceGate(info, req, { method: f.method, ...target }, filtered, bodyCap, body);
    if ("unreadable" in gate) return reject(f, "bad_request", "the request body could not be read");
    if ("tooLarge" in gate) return reject(f, "payload_too_large", "request body exceeds the gateway limit");
    if ("refused" in gate) {
      if (await answeredDead(f, key, info)) return;
      await auditRejected(f, info, "method_override");
      return reject(f, "bad_request", gate.refused);
    }
    if ("field" in gate) {
      if (await answeredDead(f, key, info)) return;
      await auditRejected(f, info, "constraint_failed", { field: gate.field });
      return reject(f, "constraint_failed", `request field ${gate.field} does not satisfy this nonce's constraints`);
    }
    // A body read by the MCP gate and not needed by the constraint gate is still the one to forward.
    body = gate.body ?? body;

    const consumed = await consume(f, key, info);
    if (typeof consumed === "string") return;

    // Every check passed and the use is on the audit log: only now is the credential decrypted (or minted).
    let needles: Buffer[];
    if (dynamic) {
      const n = consumed;
      const lastUse = n.maxUses !== null && n.uses >= n.maxUses;
      const out = { method: f.method, path: target.path, query, headers, body };
      let lease: Lease;
      try {
        lease = await dynamic.cache.lease(dynamic.minter, mintNonce(info), service, f.requestId);
        Object.assign(headers, lease.headers);
        if (dynamic.minter.sign) await dynamic.minter.sign(lease.cred, out, service);
      } catch (e) {
        if (lastUse) void dynamic.cache.endNonce(info.id, "exhausted");
        if (e instanceof CredentialUnavailable) {
          return reject(
            f,
            "credential_unavailable",
            "the service's credential issuer refused or failed; see the audit log",
          );
        }
        ctx.log.error(
          { err: errName(e), request_id: f.requestId },
          "gateway could not mint a credential (fail closed)",
        );
        return reject(f, "unavailable", "the credential store is unavailable");
      }
      needles = lease.needles;
      try {
        const status = await forward(
          f,
          upstream.origin,
          upstream.insecure,
          target.path,
          out.query,
          headers,
          filtered,
          body,
          needles,
        );
        // A shared token the upstream no longer accepts is dropped once; the next request gets a fresh one.
        if (status === 401 && dynamic.minter.retryOn401) await dynamic.cache.invalidate(lease);
      } finally {
        wipeNeedles(needles);
        if (lastUse) void dynamic.cache.endNonce(info.id, "exhausted");
      }
      return;
    }
    try {
      const injected = caches.credentials.inject(ctx.masterKeys, service, headers, query);
      query = injected.query;
      needles = injected.needles;
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
  ): Promise<number | null> {
    const { req, res } = f;
    const pathAndQuery = query.length > 0 ? `${path}?${query}` : path;
    if (!originUnchanged(origin, pathAndQuery)) {
      reject(f, "bad_request", "request target changes the origin");
      return null;
    }
    let body: Readable | Buffer | null = null;
    if (buffered) body = buffered.length > 0 ? buffered : null;
    else if (framing.chunked) body = req.pipe(new BodyLimit(cfg.maxBodyBytes));
    else if (framing.contentLength > 0) body = req;
    const relay = new RelayHandler(res, f.method, needles, f.transform);
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
        if (res.destroyed) return null;
        const e = outcome.error;
        if (e instanceof UnrelayableResponse) {
          reject(f, "upstream_error", "the upstream sent a response the gateway cannot relay");
        } else {
          const failure = upstreamFailure(e);
          ctx.log.warn({ err: errName(e), request_id: f.requestId, service: f.service }, "gateway upstream failed");
          reject(f, failure.code, failure.message);
        }
        // The use was counted and audited as nonce.used: close it with the outcome the agent saw.
        completed(f, res.statusCode, 0);
        return null;
      }
      case "blocked":
        m.secretsScrubbed.inc({ service: f.service, action: "blocked" });
        reject(f, "response_blocked", outcome.reason);
        completed(f, res.statusCode, 0);
        return null;
      case "relayed":
        if (outcome.scrubbed > 0) m.secretsScrubbed.inc({ service: f.service, action: "redacted" }, outcome.scrubbed);
        m.gatewayRequests.inc({ service: f.service, outcome: "forwarded" });
        completed(f, outcome.status, outcome.bytes);
        return outcome.status;
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

/** The minter of a dynamic auth kind, null for static kinds, "unsupported" for a dynamic kind not registered. */
function mintedFor(
  type: string,
  cache: MintedCredentials | null,
): { minter: CredentialMinter; cache: MintedCredentials } | null | "unsupported" {
  if (type === "bearer" || type === "basic" || type === "header" || type === "query") return null;
  const minter = cache?.minterFor(type);
  return minter && cache ? { minter, cache } : "unsupported";
}

function mintNonce(info: NonceInfo): MintNonce {
  return {
    id: info.id,
    service: info.service,
    agent: info.agent,
    task: info.task,
    scopes: info.scopes,
    routes: info.routes,
    expiresAt: info.expiresAt,
    params: info.params,
  };
}

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
