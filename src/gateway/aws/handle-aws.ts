import type { IncomingMessage } from "node:http";
import { type AwsRequestFacts, iamChecksOf, needsBody } from "../../core/aws/actions.js";
import { denied } from "../../core/aws/grants.js";
import { AWS_ACCESS_KEY_ID, awsNonceSecretCandidates } from "../../core/aws/nonce-credentials.js";
import type { ServiceRecord } from "../../core/types.js";
import { canonicalizeTarget } from "../canonical-path.js";
import { readBody } from "../constraint-gate.js";
import { type FilteredRequestHeaders, filterRequestHeaders } from "../headers.js";
import { CredentialUnavailable, type MintNonce } from "../minted/types.js";
import { deadMessage, presentation } from "../pipeline/answer.js";
import type { PipelineDeps } from "../pipeline/deps.js";
import { type Exchange, type Rejection, refuse, reject, type Subject } from "../pipeline/exchange.js";
import type { Outbound } from "../pipeline/inject.js";
import { buildNeedles, wipeNeedles } from "../scrub.js";
import { AWS_SERVICES, awsEndpoint } from "./endpoints.js";
import type { AwsGateway } from "./index.js";
import type { AwsSessionState } from "./minter.js";
import type { AwsNonceInfo } from "./nonce-lookup.js";
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
 * (constant time, the nonce's secret never crosses the wire) → canary tripwire → known-dead 401 → the body's
 * signed hash → service → region → IAM action and resources vs the grant (403 before anything is sent) →
 * concurrency → atomic consume (status and rate, +`nonce.used`) → STS session (cached per nonce) → re-sign →
 * forward and scrub. Every refusal happens before the upstream sees a byte. The stages after the signature and
 * grant checks are the token flow's own (gateway/pipeline/).
 *
 * Tripwires (tripwires.ts, docs/security.md "Tripwires"). The token flow trips a canary as soon as the token is
 * found well formed, because presenting it at all requires holding the secret token. Here the nonce is named by
 * its access key id, which is not secret (it is the nonce id, shown in audit events, listings and AWS logs): a
 * party who knows only the id must not be able to raise a canary alert, nor learn that the id is a canary, or
 * dead. So the signature is the analogue of the well-formed token: a canary is tripped (`nonce.canary_tripped`,
 * 401 `nonce_invalid` as if it did not exist, never forwarded) on every presentation whose signature verifies,
 * before any other answer that follows it (dead, body, service, region, scope, limits, consume). A canary
 * presented with a wrong signature gets the wrong signature's answer and is not tripped. Likewise a dead nonce's
 * 401 (coalesced, `nonce.replayed` from a new address: answer.ts) is given only once the signature verifies,
 * and before any scope, region or service answer (SECURITY.md rule 14: `unlessDead` on those refusals).
 * Refusals before the signature can be checked (malformed SigV4, date, path, framing, body too large, a missing
 * signed header) name no authenticated holder and trip nothing.
 */

export { isSigV4 };

const SKEW_MS = 15 * 60_000;
const STREAMING_SIGNED = /^STREAMING-(AWS4-HMAC-SHA256|AWS4-ECDSA-P256-SHA256)-/;
const HEX64 = /^[0-9a-f]{64}$/;
// Headers the agent signed that describe the request to AWS and are forwarded (re-signed) as they are.
const AWS_FORWARDED = /^(x-amz-(?!date$|security-token$|content-sha256$)[a-z0-9-]+|amz-sdk-[a-z-]+|content-md5)$/;

export interface AwsAuthorised {
  subject: Subject & { nonce: AwsNonceInfo };
  service: ServiceRecord & { credential: Buffer; auth: { aws: NonNullable<ServiceRecord["auth"]["aws"]> } };
  /** The SigV4 signing service and region the agent used. */
  signing: { service: string; region: string };
  rawPath: string;
  rawQuery: string;
  query: Record<string, string | string[]>;
  framing: FilteredRequestHeaders;
  body: Buffer | null;
  signedHeaders: Record<string, string>;
  payloadHash: string | undefined;
}

/**
 * The AWS flow's carrier, target and authorise stages (the stages after them are the token flow's: limits,
 * consume, then `awsInject` below, then relay): the SigV4 header names the nonce, the signature proves the agent
 * holds the nonce's key pair, and the IAM action and resources must fall in its grant.
 */
export async function awsAuthorise(
  d: PipelineDeps & { aws: AwsGateway },
  x: Exchange,
): Promise<AwsAuthorised | Rejection> {
  const { req } = x;
  const auth = parseAuthorization(String(req.headers.authorization ?? ""));
  if (!auth || !AWS_ACCESS_KEY_ID.test(auth.accessKeyId)) {
    return reject("nonce_invalid", "the AWS signature is malformed or names no nonce");
  }
  const signedAt = parseAmzDate(header(req, "x-amz-date"));
  if (!Number.isFinite(signedAt) || new Date(signedAt).toISOString().slice(0, 10).replaceAll("-", "") !== auth.date) {
    return reject("nonce_invalid", "the AWS request date is missing or malformed");
  }
  if (Math.abs(x.now - signedAt) > SKEW_MS) {
    return reject("nonce_invalid", "the AWS request is dated more than 15 minutes from the gateway's time");
  }
  if (!AWS_SERVICES.has(auth.service)) return reject("bad_request", "requests for this AWS service are not supported");

  // S3 puts a `/` after the bucket (ListObjectsV2: `/bucket/?list-type=2`): the only empty segment allowed.
  const url = req.url ?? "";
  const q = url.indexOf("?");
  const rawPath = q === -1 ? url : url.slice(0, q);
  const rawQuery = q === -1 ? "" : url.slice(q + 1);
  const trailingSlash = rawPath.length > 1 && rawPath.endsWith("/");
  const bare = trailingSlash ? rawPath.slice(0, -1) : rawPath;
  const target = canonicalizeTarget(rawQuery ? `${bare}?${rawQuery}` : bare);
  if ("error" in target) return reject("bad_request", target.error);
  // Authorised, signed and forwarded form are one: a path that canonicalisation would change is refused.
  if (target.path !== bare) return reject("bad_request", "the request path is not in canonical form");
  const query = queryForSigner(rawQuery);
  if (!query) return reject("bad_request", "invalid percent-encoding in query");
  if (Object.keys(query).some((k) => k.toLowerCase().startsWith("x-amz-"))) {
    return reject("bad_request", "presigned and query-signed AWS requests are not supported");
  }
  const framing = filterRequestHeaders(req.rawHeaders);
  if ("error" in framing) return reject("bad_request", framing.error);
  if (framing.contentLength > d.cfg.maxBodyBytes) {
    return reject("payload_too_large", "request body exceeds the gateway limit");
  }

  let info: AwsNonceInfo | undefined;
  try {
    const got = d.aws.nonces.get(auth.accessKeyId);
    info = got instanceof Promise ? await got : got;
  } catch {
    return reject("unavailable", "the credential store is unavailable");
  }
  if (!info) return reject("nonce_invalid", "nonce is not valid");
  const subject = { nonce: info, key: info.tokenKey, path: rawPath };

  const payloadHash = header(req, "x-amz-content-sha256");
  if (payloadHash !== undefined && STREAMING_SIGNED.test(payloadHash)) {
    return refuse(
      subject,
      "bad_request",
      "signed aws-chunked payloads are not supported; the AWS SDK v3 sends unsigned trailers",
    );
  }
  const queryMap = new Map(Object.entries(query).map(([k, v]) => [k, Array.isArray(v) ? v : [v]]));
  const hashSigned = payloadHash !== undefined && auth.signedHeaders.includes("x-amz-content-sha256");
  let body: Buffer | null = null;
  // A body its signed hash does not cover: refused once the signature (which covers the hash, not these bytes,
  // when the hash is signed) has verified, after the tripwires.
  let unsignedBody: Rejection | null = null;
  if (needsBody(auth.service, x.method, queryMap) || !hashSigned) {
    const read = await readBody(req, framing.chunked ? -1 : framing.contentLength, framing.chunked, d.bodyCap);
    if ("tooLarge" in read) return refuse(subject, "payload_too_large", "request body exceeds the gateway limit");
    body = read.body;
    // The signature covers the hash header; the hash must cover these bytes, or the body is unsigned.
    if (hashSigned && HEX64.test(payloadHash) && sha256Hex(body) !== payloadHash) {
      unsignedBody = refuse(subject, "nonce_invalid", "the AWS request body does not match its signed hash", {
        audit: "nonce_invalid",
        auditData: { why: "payload_hash" },
        coalesce: true,
      });
    } else if (
      hashSigned &&
      !HEX64.test(payloadHash) &&
      payloadHash !== "UNSIGNED-PAYLOAD" &&
      needsBody(auth.service, x.method, queryMap)
    ) {
      unsignedBody = refuse(subject, "bad_request", "this AWS request must carry a signed payload hash");
    }
  }

  const signedHeaders: Record<string, string> = {};
  for (const name of auth.signedHeaders) {
    const v = header(req, name);
    if (v === undefined) return refuse(subject, "nonce_invalid", "a signed header is missing");
    signedHeaders[name] = v;
  }
  const request: SignableRequest = {
    method: x.method,
    hostname: "gateway",
    path: rawPath,
    query,
    headers: signedHeaders,
    body: hashSigned ? null : body,
  };
  const nonceId = info.id;
  const tokenKey = info.tokenKey;
  info.credentials ??= awsNonceSecretCandidates(d.ctx.masterKeys, nonceId, tokenKey).map((secretAccessKey) => ({
    accessKeyId: nonceId,
    secretAccessKey,
  }));
  const valid = await verifyAgentSignature(request, auth, info.credentials, new Date(signedAt));
  if (!valid) {
    return refuse(subject, "nonce_invalid", "the AWS signature does not match", {
      audit: "nonce_invalid",
      auditData: { why: "signature" },
      coalesce: true,
    });
  }

  // The holder of the key pair made this request: the tripwires (see the top of this file), before any other answer.
  if (info.canary) {
    await d.tripwires.trip(info, presentation(x));
    return reject("nonce_invalid", "nonce is not valid");
  }
  // Known dead here (seen revoked or exhausted, or past its immutable expiry): its 401 from memory, coalesced
  // (answer.ts), no store work; its STS session, if this process still holds one, goes with it.
  const dead = d.caches.dead.reasonOf(info, x.now);
  if (dead) {
    void d.aws.sessions.destroy(info.id, dead);
    return refuse(subject, dead, deadMessage(dead));
  }
  if (unsignedBody) return unsignedBody;

  let svc: ServiceRecord | undefined;
  try {
    const s = d.caches.service(info.service);
    svc = (s instanceof Promise ? await s : s)?.record;
  } catch {
    return refuse(subject, "unavailable", "the credential store is unavailable");
  }
  // Refusals short of the consume read the nonce's live status first: a dead nonce gets its 401 instead (rule 14).
  if (svc?.auth.type !== "aws_sigv4" || !svc.auth.aws) {
    return refuse(subject, "nonce_invalid", "the nonce's service is not an AWS service", { unlessDead: true });
  }
  if (!svc.credential) {
    return refuse(subject, "credential_missing", "the service has no credential set", { unlessDead: true });
  }

  const aws = svc.auth.aws;
  if (auth.region !== aws.region) {
    return refuse(subject, "scope_denied", "requests are allowed only in the service's region", {
      unlessDead: true,
      audit: "scope_denied",
      auditData: { region: auth.region },
    });
  }
  const arn = /^arn:([a-z-]+):iam::(\d{12}):/.exec(aws.role_arn);
  const facts: AwsRequestFacts = {
    service: auth.service,
    region: auth.region,
    account: arn?.[2] ?? "",
    partition: arn?.[1] ?? "aws",
    method: x.method,
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
    const what = refused.action ? `${refused.action} on this resource is` : "this AWS request is";
    return refuse(subject, "scope_denied", `${what} outside this nonce's scope`, {
      unlessDead: true,
      audit: "scope_denied",
      ...(refused.action ? { auditData: { action: refused.action } } : {}),
    });
  }
  return {
    subject,
    service: svc as AwsAuthorised["service"],
    signing: { service: auth.service, region: auth.region },
    rawPath,
    rawQuery,
    query,
    framing,
    body,
    signedHeaders,
    payloadHash,
  };
}

/** The AWS flow's inject stage: the nonce's STS session (cached per nonce), then the request re-signed with it. */
export async function awsInject(
  d: PipelineDeps & { aws: AwsGateway },
  x: Exchange,
  a: AwsAuthorised,
): Promise<Outbound | Rejection> {
  const s = a.subject;
  const endpoint = awsEndpoint(a.service, a.signing.service, a.signing.region);
  if ("error" in endpoint) return refuse(s, "upstream_error", endpoint.error);
  let session: AwsSessionState;
  let needles: Buffer[];
  try {
    const cred = await d.aws.sessions.get(mintNonce(s.nonce), a.service, x.now);
    session = cred.state as AwsSessionState;
    needles = buildNeedles(cred.secrets);
  } catch (e) {
    if (e instanceof CredentialUnavailable) {
      d.ctx.log.warn({ reason: e.reason, service: s.nonce.service }, "gateway could not obtain an STS session");
      return refuse(s, "credential_unavailable", "AWS STS refused or failed to issue a session for this nonce");
    }
    d.ctx.log.error({ err: e instanceof Error ? e.name : typeof e }, "gateway STS session failed");
    return refuse(s, "unavailable", "the credential store is unavailable");
  }
  try {
    const upstream = new URL(endpoint.origin);
    const headers: Record<string, string> = { ...a.framing.headers };
    for (const [name, v] of Object.entries(a.signedHeaders)) if (AWS_FORWARDED.test(name)) headers[name] = v;
    headers.host = upstream.host;
    if (a.payloadHash !== undefined) headers["x-amz-content-sha256"] = a.payloadHash;
    const signed = await resign(
      { method: x.method, hostname: upstream.hostname, path: a.rawPath, query: a.query, headers, body: a.body },
      session,
      a.signing.region,
      a.signing.service,
      new Date(x.now),
    );
    return {
      subject: s,
      origin: endpoint.origin,
      insecure: endpoint.insecure,
      path: a.rawPath,
      query: a.rawQuery,
      headers: signed,
      framing: a.framing,
      body: a.body,
      needles,
      transform: undefined,
      minted: null,
    };
  } catch (e) {
    wipeNeedles(needles);
    throw e;
  }
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
