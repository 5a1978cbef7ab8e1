import type { NonceRecord } from "../../core/types.js";
import type { ResponseTransform } from "../body-transform.js";
import { GatewayReject } from "../errors.js";
import type { FilteredRequestHeaders } from "../headers.js";
import type { Lease } from "../minted/cache.js";
import { CredentialUnavailable } from "../minted/types.js";
import { wipeNeedles } from "../scrub.js";
import type { Admitted } from "./admit.js";
import { errName } from "./answer.js";
import { type Dynamic, mintNonce } from "./authorise.js";
import type { PipelineDeps } from "./deps.js";
import { type Exchange, type Rejection, refuse, type Subject } from "./exchange.js";

/**
 * Stage 6, inject: every check passed and the use is on the audit log, so only now is the credential used: decrypted
 * (AES-256-GCM envelope, core/crypto.ts; what a request derives from it is kept per service for at most 10 s,
 * credential-cache.ts) and set as exactly one credential (inject.ts), the plaintext zeroed at once; or, for a minted kind, leased from `MintedCredentials` (and signed per request where the kind signs).
 * The result carries the scrubber's needles, wiped by `settle` once the relay is over.
 */

/** One upstream request, ready to go (relay.ts). */
export interface Outbound {
  subject: Subject;
  origin: string;
  insecure: boolean;
  path: string;
  query: string;
  headers: Record<string, string>;
  framing: Pick<FilteredRequestHeaders, "contentLength" | "chunked">;
  /** The buffered body when a gate read it; null: the request body streams (or there is none). */
  body: Buffer | null;
  /** The secret's spellings the scrubber looks for; wiped by `settle`. */
  needles: Buffer[];
  transform: ResponseTransform | undefined;
  /** A minted credential's lease and whether this was the nonce's last use (its credential is then destroyed). */
  minted: { dynamic: Dynamic; lease: Lease; lastUse: boolean } | null;
}

/** A plain value for a static credential (no promise on the hot path); a promise for a minted one. */
export function inject(
  d: PipelineDeps,
  x: Exchange,
  ad: Admitted,
  consumed: NonceRecord,
): Outbound | Rejection | Promise<Outbound | Rejection> {
  const a = ad.authorised;
  if (a.dynamic) return injectMinted(d, x, ad, a.dynamic, consumed);
  const s = a.subject;
  try {
    // Opened at most once per credential and 10 s (credential-cache.ts); the needles are this request's own copies.
    const injected = d.caches.credentials.inject(d.ctx.masterKeys, a.service, a.framing.headers, a.query);
    return outbound(ad, injected.query, injected.needles, null);
  } catch (e) {
    if (e instanceof GatewayReject) return refuse(s, e.code, e.message);
    d.ctx.log.error({ err: errName(e), request_id: x.requestId }, "gateway could not open the credential");
    return refuse(s, "internal", "the service credential could not be used");
  }
}

async function injectMinted(
  d: PipelineDeps,
  x: Exchange,
  ad: Admitted,
  dynamic: Dynamic,
  consumed: NonceRecord,
): Promise<Outbound | Rejection> {
  const a = ad.authorised;
  const s = a.subject;
  const lastUse = consumed.maxUses !== null && consumed.uses >= consumed.maxUses;
  const headers = a.framing.headers;
  const out = { method: x.method, path: a.canonical.path, query: a.query, headers, body: ad.body };
  let lease: Lease;
  try {
    lease = await dynamic.cache.lease(dynamic.minter, mintNonce(s.nonce), a.service, x.requestId);
    Object.assign(headers, lease.headers);
    if (dynamic.minter.sign) await dynamic.minter.sign(lease.cred, out, a.service);
  } catch (e) {
    if (lastUse) void dynamic.cache.endNonce(s.nonce.id, "exhausted");
    if (e instanceof CredentialUnavailable) {
      return refuse(
        s,
        "credential_unavailable",
        "the service's credential issuer refused or failed; see the audit log",
      );
    }
    d.ctx.log.error({ err: errName(e), request_id: x.requestId }, "gateway could not mint a credential (fail closed)");
    return refuse(s, "unavailable", "the credential store is unavailable");
  }
  return outbound(ad, out.query, lease.needles, { dynamic, lease, lastUse });
}

function outbound(ad: Admitted, query: string, needles: Buffer[], minted: Outbound["minted"]): Outbound {
  const a = ad.authorised;
  return {
    subject: a.subject,
    origin: a.upstream.origin,
    insecure: a.upstream.insecure,
    path: a.canonical.path,
    query,
    headers: a.framing.headers,
    framing: a.framing,
    body: ad.body,
    needles,
    transform: ad.transform,
    minted,
  };
}

/**
 * After the relay (whatever its outcome): the needles are wiped; a shared minted token the upstream no longer
 * accepts (401) is dropped once, so the next request gets a fresh one; a nonce's last use destroys its credential.
 * A promise only when a token is dropped.
 */
export function settle(o: Outbound, status: number | null): Promise<void> | undefined {
  const minted = o.minted;
  if (minted && status === 401 && minted.dynamic.minter.retryOn401) {
    return minted.dynamic.cache.invalidate(minted.lease).finally(() => release(o));
  }
  release(o);
  return undefined;
}

function release(o: Outbound): void {
  wipeNeedles(o.needles);
  if (o.minted?.lastUse) void o.minted.dynamic.cache.endNonce(o.subject.nonce.id, "exhausted");
}
