import type { IncomingMessage } from "node:http";
import type { GatewayContext } from "../../app/context.js";
import { type AwsRequestFacts, iamChecksOf, needsBody } from "../../core/aws/actions.js";
import { denied } from "../../core/aws/grants.js";
import { AWS_ACCESS_KEY_ID, awsNonceSecretCandidates } from "../../core/aws/nonce-credentials.js";
import type { ErrorCode } from "../../core/errors.js";
import type { ServiceRecord } from "../../core/types.js";
import type { GatewayCaches, NonceInfo } from "../caches.js";
import { canonicalizeTarget } from "../canonical-path.js";
import { readBody } from "../constraint-gate.js";
import { filterRequestHeaders } from "../headers.js";
import { CredentialUnavailable, type MintNonce } from "../minted/types.js";
import { buildNeedles, wipeNeedles } from "../scrub.js";
import { AWS_SERVICES, awsEndpoint } from "./endpoints.js";
import type { AwsSessionState } from "./minter.js";
import type { AwsNonceInfo, AwsNonceLookup } from "./nonce-lookup.js";
import type { NonceCredentialCache } from "./session-cache.js";
import {
  isSigV4,
  parseAmzDate,
  parseAuthorization,
  queryForSigner,
  resign,
  type SignableRequest,
  sha256Hex,
  verifyAgentSignature,
} from "./sigv4.js";

/**
 * An AWS SDK request through the gateway (DESIGN.md `aws_sigv4`): SigV4 parse → date within ±15 min → path →
 * framing → nonce by access key id → body (only when the action or the signature needs it) → signature check
 * (constant time, the nonce's secret never crosses the wire) → region → IAM action and resources vs the grant
 * (403 before anything is sent) → concurrency → atomic consume (status and rate, +`nonce.used`) → STS session
 * (cached per nonce) → re-sign → forward and scrub. Every refusal happens before the upstream sees a byte.
 */

export { isSigV4 };

const SKEW_MS = 15 * 60_000;
const STREAMING_SIGNED = /^STREAMING-(AWS4-HMAC-SHA256|AWS4-ECDSA-P256-SHA256)-/;
const HEX64 = /^[0-9a-f]{64}$/;
// Headers the agent signed that describe the request to AWS and are forwarded (re-signed) as they are.
const AWS_FORWARDED = /^(x-amz-(?!date$|security-token$|content-sha256$)[a-z0-9-]+|amz-sdk-[a-z-]+|content-md5)$/;

export interface AwsFlow {
  req: IncomingMessage;
  now: number;
  method: string;
  path: string;
  service: string;
  nonce: NonceInfo | null;
}

export interface AwsFlowDeps<F extends AwsFlow> {
  ctx: GatewayContext;
  caches: GatewayCaches;
  nonces: AwsNonceLookup;
  sessions: NonceCredentialCache;
  bodyCap: number;
  reject(f: F, code: ErrorCode, message: string): void;
  auditRejected(f: F, n: NonceInfo, reason: string, data?: Record<string, unknown>): Promise<void>;
  /** The per-process concurrency limit (handle.ts); false when it has already answered. */
  admit(f: F, n: NonceInfo): Promise<boolean>;
  /** Atomic consume with `nonce.used` (status and rate); returns the rejection code when it refused. */
  consume(f: F, tokenKey: Buffer): Promise<ErrorCode | null>;
  forward(
    f: F,
    origin: string,
    insecure: boolean,
    path: string,
    query: string,
    headers: Record<string, string>,
    framing: { contentLength: number; chunked: boolean },
    buffered: Buffer | null,
    needles: Buffer[],
  ): Promise<unknown>;
}

export function createAwsFlow<F extends AwsFlow>(d: AwsFlowDeps<F>) {
  const cfg = d.ctx.config.gateway;

  return async function runAws(f: F): Promise<void> {
    const { req } = f;
    const auth = parseAuthorization(String(req.headers.authorization ?? ""));
    if (!auth || !AWS_ACCESS_KEY_ID.test(auth.accessKeyId)) {
      return d.reject(f, "nonce_invalid", "the AWS signature is malformed or names no nonce");
    }
    const signedAt = parseAmzDate(header(req, "x-amz-date"));
    if (!Number.isFinite(signedAt) || new Date(signedAt).toISOString().slice(0, 10).replaceAll("-", "") !== auth.date) {
      return d.reject(f, "nonce_invalid", "the AWS request date is missing or malformed");
    }
    if (Math.abs(f.now - signedAt) > SKEW_MS) {
      return d.reject(f, "nonce_invalid", "the AWS request is dated more than 15 minutes from the gateway's time");
    }
    if (!AWS_SERVICES.has(auth.service))
      return d.reject(f, "bad_request", "requests for this AWS service are not supported");

    // S3 puts a `/` after the bucket (ListObjectsV2: `/bucket/?list-type=2`): the only empty segment allowed.
    const url = req.url ?? "";
    const q = url.indexOf("?");
    const rawPath = q === -1 ? url : url.slice(0, q);
    const rawQuery = q === -1 ? "" : url.slice(q + 1);
    const trailingSlash = rawPath.length > 1 && rawPath.endsWith("/");
    const bare = trailingSlash ? rawPath.slice(0, -1) : rawPath;
    const target = canonicalizeTarget(rawQuery ? `${bare}?${rawQuery}` : bare);
    if ("error" in target) return d.reject(f, "bad_request", target.error);
    // Authorised, signed and forwarded form are one: a path that canonicalisation would change is refused.
    if (target.path !== bare) return d.reject(f, "bad_request", "the request path is not in canonical form");
    f.path = rawPath;
    const query = queryForSigner(rawQuery);
    if (!query) return d.reject(f, "bad_request", "invalid percent-encoding in query");
    if (Object.keys(query).some((k) => k.toLowerCase().startsWith("x-amz-"))) {
      return d.reject(f, "bad_request", "presigned and query-signed AWS requests are not supported");
    }
    const filtered = filterRequestHeaders(req.rawHeaders);
    if ("error" in filtered) return d.reject(f, "bad_request", filtered.error);
    if (filtered.contentLength > cfg.maxBodyBytes) {
      return d.reject(f, "payload_too_large", "request body exceeds the gateway limit");
    }

    let info: AwsNonceInfo | undefined;
    let svc: ServiceRecord | undefined;
    try {
      const got = d.nonces.get(auth.accessKeyId);
      info = got instanceof Promise ? await got : got;
      if (info) {
        const s = d.caches.service(info.service);
        svc = (s instanceof Promise ? await s : s)?.record;
      }
    } catch {
      return d.reject(f, "unavailable", "the credential store is unavailable");
    }
    if (!info) return d.reject(f, "nonce_invalid", "nonce is not valid");
    f.service = info.service;
    f.nonce = info;
    if (svc?.auth.type !== "aws_sigv4" || !svc.auth.aws) {
      return d.reject(f, "nonce_invalid", "the nonce's service is not an AWS service");
    }
    if (!svc.credential) return d.reject(f, "credential_missing", "the service has no credential set");

    const payloadHash = header(req, "x-amz-content-sha256");
    if (payloadHash !== undefined && STREAMING_SIGNED.test(payloadHash)) {
      return d.reject(
        f,
        "bad_request",
        "signed aws-chunked payloads are not supported; the AWS SDK v3 sends unsigned trailers",
      );
    }
    const queryMap = new Map(Object.entries(query).map(([k, v]) => [k, Array.isArray(v) ? v : [v]]));
    const hashSigned = payloadHash !== undefined && auth.signedHeaders.includes("x-amz-content-sha256");
    let body: Buffer | null = null;
    if (needsBody(auth.service, f.method, queryMap) || !hashSigned) {
      const read = await readBody(req, filtered.chunked ? -1 : filtered.contentLength, filtered.chunked, d.bodyCap);
      if ("tooLarge" in read) return d.reject(f, "payload_too_large", "request body exceeds the gateway limit");
      body = read.body;
      // The signature covers the hash header; the hash must cover these bytes, or the body is unsigned.
      if (hashSigned && HEX64.test(payloadHash) && sha256Hex(body) !== payloadHash) {
        await d.auditRejected(f, info, "nonce_invalid", { why: "payload_hash" });
        return d.reject(f, "nonce_invalid", "the AWS request body does not match its signed hash");
      }
      if (
        hashSigned &&
        !HEX64.test(payloadHash) &&
        payloadHash !== "UNSIGNED-PAYLOAD" &&
        needsBody(auth.service, f.method, queryMap)
      ) {
        return d.reject(f, "bad_request", "this AWS request must carry a signed payload hash");
      }
    }

    const signedHeaders: Record<string, string> = {};
    for (const name of auth.signedHeaders) {
      const v = header(req, name);
      if (v === undefined) return d.reject(f, "nonce_invalid", "a signed header is missing");
      signedHeaders[name] = v;
    }
    const request: SignableRequest = {
      method: f.method,
      hostname: "gateway",
      path: rawPath,
      query,
      headers: signedHeaders,
      body: hashSigned ? null : body,
    };
    const nonceId = info.id;
    info.credentials ??= awsNonceSecretCandidates(d.ctx.masterKeys, nonceId, info.tokenKey).map((secretAccessKey) => ({
      accessKeyId: nonceId,
      secretAccessKey,
    }));
    const valid = await verifyAgentSignature(request, auth, info.credentials, new Date(signedAt));
    if (!valid) {
      await d.auditRejected(f, info, "nonce_invalid", { why: "signature" });
      return d.reject(f, "nonce_invalid", "the AWS signature does not match");
    }

    const aws = svc.auth.aws;
    if (auth.region !== aws.region) {
      await d.auditRejected(f, info, "scope_denied", { region: auth.region });
      return d.reject(f, "scope_denied", "requests are allowed only in the service's region");
    }
    const arn = /^arn:([a-z-]+):iam::(\d{12}):/.exec(aws.role_arn);
    const facts: AwsRequestFacts = {
      service: auth.service,
      region: auth.region,
      account: arn?.[2] ?? "",
      partition: arn?.[1] ?? "aws",
      method: f.method,
      segments: target.segments,
      trailingSlash,
      query: queryMap,
      headers: {
        target: header(req, "x-amz-target"),
        contentType: header(req, "content-type"),
        copySource: header(req, "x-amz-copy-source"),
      },
      body,
    };
    const mapped = iamChecksOf(facts);
    const refused = "error" in mapped ? { action: null } : denied(info.grant, mapped.checks);
    if (refused) {
      await d.auditRejected(f, info, "scope_denied", refused.action ? { action: refused.action } : undefined);
      const what = refused.action ? `${refused.action} on this resource is` : "this AWS request is";
      return d.reject(f, "scope_denied", `${what} outside this nonce's scope`);
    }

    if (!(await d.admit(f, info))) return;
    const gone = await d.consume(f, info.tokenKey);
    if (gone !== null) {
      // A rate-limited nonce is alive: its session stays.
      if (gone !== "unavailable" && gone !== "rate_limited") void d.sessions.destroy(info.id, gone);
      return;
    }

    const endpoint = awsEndpoint(svc, auth.service, auth.region);
    if ("error" in endpoint) return d.reject(f, "upstream_error", endpoint.error);
    let session: AwsSessionState;
    let needles: Buffer[];
    try {
      const cred = await d.sessions.get(mintNonce(info), svc, f.now);
      session = cred.state as AwsSessionState;
      needles = buildNeedles(cred.secrets);
    } catch (e) {
      if (e instanceof CredentialUnavailable) {
        d.ctx.log.warn({ reason: e.reason, service: f.service }, "gateway could not obtain an STS session");
        return d.reject(f, "credential_unavailable", "AWS STS refused or failed to issue a session for this nonce");
      }
      d.ctx.log.error({ err: e instanceof Error ? e.name : typeof e }, "gateway STS session failed");
      return d.reject(f, "unavailable", "the credential store is unavailable");
    }

    try {
      const upstream = new URL(endpoint.origin);
      const headers: Record<string, string> = { ...filtered.headers };
      for (const [name, v] of Object.entries(signedHeaders)) if (AWS_FORWARDED.test(name)) headers[name] = v;
      headers.host = upstream.host;
      if (payloadHash !== undefined) headers["x-amz-content-sha256"] = payloadHash;
      const signed = await resign(
        { method: f.method, hostname: upstream.hostname, path: rawPath, query, headers, body },
        session,
        auth.region,
        auth.service,
        new Date(f.now),
      );
      await d.forward(f, endpoint.origin, endpoint.insecure, rawPath, rawQuery, signed, filtered, body, needles);
    } finally {
      wipeNeedles(needles);
    }
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(",") : v;
}

function mintNonce(n: AwsNonceInfo): MintNonce {
  return {
    id: n.id,
    service: n.service,
    agent: n.agent,
    task: n.task,
    scopes: n.scopes,
    routes: n.routes,
    expiresAt: n.expiresAt,
    params: null,
  };
}
