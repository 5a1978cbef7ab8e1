import { routeAllows } from "../../core/scopes.js";
import type { ServiceRecord } from "../../core/types.js";
import type { NonceInfo, ServiceEntry } from "../caches.js";
import type { CanonicalTarget } from "../canonical-path.js";
import type { FilteredRequestHeaders } from "../headers.js";
import { stripQueryParam } from "../inject.js";
import type { MintedCredentials } from "../minted/cache.js";
import type { CredentialMinter, MintNonce } from "../minted/types.js";
import type { UpstreamTarget } from "../upstream.js";
import { deadMessage, errName } from "./answer.js";
import type { Carrier } from "./carrier.js";
import type { PipelineDeps } from "./deps.js";
import { type Exchange, type Rejection, refuse, reject, type Subject } from "./exchange.js";
import type { Target } from "./target.js";

/**
 * Stage 3, authorise: the nonce exists (a store failure: 503, fail closed), is not known dead (past its cached
 * expiry, or seen revoked or exhausted by this process: its 401 at once, SECURITY.md rule 14), its routes allow
 * this method and canonical path (HEAD where GET is: `routeAllows`), its service is configured with a credential
 * and a valid upstream, and a minted kind's `authorize` accepts the request. The service's own key header and
 * query parameter are removed from what will be forwarded here (rule 5), before a minter looks at the request.
 */

const UNLESS_DEAD = { unlessDead: true } as const;

export interface Dynamic {
  minter: CredentialMinter;
  cache: MintedCredentials;
}

export interface Authorised {
  subject: Subject;
  canonical: CanonicalTarget;
  /** The outbound headers (`framing.headers`) and the body's framing. */
  framing: FilteredRequestHeaders;
  /** The query to forward (the service's own query parameter removed). */
  query: string;
  service: ServiceRecord & { credential: Buffer };
  upstream: UpstreamTarget;
  /** The minter of a dynamic auth kind, null for the static kinds (bearer, basic, header, query). */
  dynamic: Dynamic | null;
}

/** A plain value when the service is in the cache (no promise on the hot path). */
export function authorise(
  d: PipelineDeps,
  x: Exchange,
  c: Carrier,
  t: Target,
): Authorised | Rejection | Promise<Authorised | Rejection> {
  if (c.nonce === "failed") return reject("unavailable", "the credential store is unavailable");
  if (c.nonce === undefined) return reject("nonce_invalid", "nonce is not valid");
  const info = c.nonce;
  const { canonical } = t;
  const subject: Subject = { nonce: info, key: c.key, path: canonical.path };
  const dead = d.caches.dead.reasonOf(info, x.now);
  if (dead) return refuse(subject, dead, deadMessage(dead));

  // Segments from an encoded '/' on may only fall in a route's final `**` (see core/scopes.ts); the path
  // forwarded is the decoded form that was matched.
  const tail = canonical.encodedSlashFrom;
  if (!routeAllows(info.matcher, x.method, canonical.segments, tail)) {
    const hint = tail < canonical.segments.length ? " (an encoded '/' is accepted only in a route's final **)" : "";
    return refuse(subject, "scope_denied", `${x.method} ${canonical.path} is outside this nonce's scope${hint}`, {
      unlessDead: true,
      audit: "scope_denied",
    });
  }

  let got: ReturnType<PipelineDeps["caches"]["service"]>;
  try {
    got = d.caches.service(info.service);
  } catch (e) {
    return serviceFailed(d, x, subject, e);
  }
  if (got instanceof Promise) {
    return got.then(
      (svc) => withService(d, x, subject, t, svc),
      (e: unknown) => serviceFailed(d, x, subject, e),
    );
  }
  return withService(d, x, subject, t, got);
}

function serviceFailed(d: PipelineDeps, x: Exchange, subject: Subject, e: unknown): Rejection {
  d.ctx.log.error({ err: errName(e), request_id: x.requestId }, "gateway service lookup failed");
  return refuse(subject, "unavailable", "the credential store is unavailable");
}

function withService(
  d: PipelineDeps,
  x: Exchange,
  subject: Subject,
  t: Target,
  svc: ServiceEntry | undefined,
): Authorised | Rejection {
  // A deleted service revoked its nonces: the dead check (unlessDead) tells the agent so, not that it is gone.
  if (!svc) return refuse(subject, "upstream_error", "the nonce's service is not configured", UNLESS_DEAD);
  if ("error" in svc.upstream) return refuse(subject, "upstream_error", svc.upstream.error, UNLESS_DEAD);
  const service = svc.record;
  if (!service.credential) {
    return refuse(subject, "credential_missing", "the service has no credential set", UNLESS_DEAD);
  }

  const { canonical, framing } = t;
  const headers = framing.headers;
  let query = canonical.query;
  const auth = service.auth;
  if (auth.type === "header" && auth.name) delete headers[auth.name.toLowerCase()];
  if (auth.type === "query" && auth.name) query = stripQueryParam(query, auth.name);
  const dynamic = mintedFor(auth.type, d.minted);
  if (dynamic === "unsupported") {
    return refuse(subject, "upstream_error", "this service's auth type is not supported here");
  }
  if (dynamic?.minter.authorize) {
    const out = { method: x.method, path: canonical.path, query, headers, body: null };
    const refusal = dynamic.minter.authorize(mintNonce(subject.nonce), service, out);
    if (refusal) {
      return refuse(subject, refusal.code, refusal.message, { audit: refusal.code, auditData: refusal.data });
    }
  }
  return {
    subject,
    canonical,
    framing,
    query,
    service: service as Authorised["service"],
    upstream: svc.upstream,
    dynamic,
  };
}

/** The minter of a dynamic auth kind, null for static kinds, "unsupported" for a dynamic kind not registered. */
function mintedFor(type: string, cache: MintedCredentials | null): Dynamic | null | "unsupported" {
  if (type === "bearer" || type === "basic" || type === "header" || type === "query") return null;
  const minter = cache?.minterFor(type);
  return minter && cache ? { minter, cache } : "unsupported";
}

export function mintNonce(info: NonceInfo): MintNonce {
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
