import { open } from "../../core/crypto.js";
import type { NonceRecord } from "../../core/types.js";
import type { ResponseTransform } from "../body-transform.js";
import { GatewayReject } from "../errors.js";
import type { FilteredRequestHeaders } from "../headers.js";
import { injectCredential } from "../inject.js";
import type { Lease } from "../minted/cache.js";
import { CredentialUnavailable } from "../minted/types.js";
import { wipeNeedles } from "../scrub.js";
import type { Admitted } from "./admit.js";
import { errName } from "./answer.js";
import { type Dynamic, mintNonce } from "./authorise.js";
import type { PipelineDeps } from "./deps.js";
import { type Exchange, type Rejection, refuse, type Subject } from "./exchange.js";

/**
 * Stage 6, inject: every check passed and the use is on the audit log, so only now is the credential decrypted
 * (AES-256-GCM envelope, core/crypto.ts) and set as exactly one credential (inject.ts), its plaintext zeroed at
 * once; or, for a minted kind, leased from `MintedCredentials` (and signed per request where the kind signs).
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

export async function inject(
  d: PipelineDeps,
  x: Exchange,
  a: Admitted,
  consumed: NonceRecord,
): Promise<Outbound | Rejection> {
  const s = a.subject;
  const headers = a.framing.headers;
  const outbound = {
    subject: s,
    origin: a.upstream.origin,
    insecure: a.upstream.insecure,
    path: a.canonical.path,
    query: a.query,
    headers,
    framing: a.framing,
    body: a.body,
    transform: a.transform,
  };
  const dynamic = a.dynamic;
  if (dynamic) {
    const lastUse = consumed.maxUses !== null && consumed.uses >= consumed.maxUses;
    const out = { method: x.method, path: outbound.path, query: outbound.query, headers, body: a.body };
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
      d.ctx.log.error(
        { err: errName(e), request_id: x.requestId },
        "gateway could not mint a credential (fail closed)",
      );
      return refuse(s, "unavailable", "the credential store is unavailable");
    }
    return { ...outbound, query: out.query, needles: lease.needles, minted: { dynamic, lease, lastUse } };
  }
  try {
    const secret = open(d.ctx.masterKeys, a.service.name, a.service.credential);
    try {
      const injected = injectCredential(a.service.auth, secret, headers, outbound.query);
      return { ...outbound, query: injected.query, needles: injected.needles, minted: null };
    } finally {
      secret.fill(0);
    }
  } catch (e) {
    if (e instanceof GatewayReject) return refuse(s, e.code, e.message);
    d.ctx.log.error({ err: errName(e), request_id: x.requestId }, "gateway could not open the credential");
    return refuse(s, "internal", "the service credential could not be used");
  }
}

/**
 * After the relay (whatever its outcome): the needles are wiped; a shared minted token the upstream no longer
 * accepts (401) is dropped once, so the next request gets a fresh one; a nonce's last use destroys its credential.
 */
export async function settle(o: Outbound, status: number | null): Promise<void> {
  try {
    if (o.minted && status === 401 && o.minted.dynamic.minter.retryOn401) {
      await o.minted.dynamic.cache.invalidate(o.minted.lease);
    }
  } finally {
    wipeNeedles(o.needles);
    if (o.minted?.lastUse) void o.minted.dynamic.cache.endNonce(o.subject.nonce.id, "exhausted");
  }
}
