import { isWellFormed, tokenKey } from "../../core/tokens.js";
import type { NonceInfo } from "../caches.js";
import { extractNonce } from "../credentials-carrier.js";
import { errName, presentation } from "./answer.js";
import type { PipelineDeps } from "./deps.js";
import { type Exchange, type Rejection, reject } from "./exchange.js";

/**
 * Stage 1, carrier: the method and HTTP version, the nonce from its carrier (`Authorization: Bearer|token|Basic`
 * or `X-Agent-Nonce`, credentials-carrier.ts), its checksum (garbage never touches the store), and the lookup of
 * its immutable part by token key (caches.ts). The lookup runs before anything else can answer, so a canary is
 * refused and alerted on whatever the request is (tripwires.ts); a lookup failure is answered (503) where it
 * always was, in the authorise stage, after the path and header checks.
 */

const METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

export interface Carrier {
  key: Buffer;
  /** The nonce's immutable part; undefined when there is none; "failed" when the store could not be read. */
  nonce: NonceInfo | undefined | "failed";
}

/** The method check every request goes through first (the AWS flow's too). */
export function methodRejection(x: Exchange): Rejection | null {
  return METHODS.has(x.method) ? null : reject("bad_request", "unsupported HTTP method");
}

/** A plain value when the nonce is in the cache (no promise on the hot path); a promise on a miss or a canary. */
export function carrier(d: PipelineDeps, x: Exchange): Carrier | Rejection | Promise<Carrier | Rejection> {
  const { req } = x;
  // llhttp takes "GET /x\r\n" (no version) as HTTP/0.9 and still reads headers after it: refuse (rule 6).
  if (req.httpVersionMajor !== 1) return reject("bad_request", "unsupported HTTP version");
  const found = extractNonce(req.rawHeaders);
  if ("missing" in found) return reject("nonce_missing", "no nonce presented");
  if ("conflict" in found) return reject("bad_request", "more than one nonce presented");
  if (!isWellFormed(found.token, "an")) return reject("nonce_invalid", "nonce is not valid");
  const key = tokenKey(found.token);
  let got: ReturnType<PipelineDeps["caches"]["nonce"]>;
  try {
    got = d.caches.nonce(key);
  } catch (e) {
    return lookupFailed(d, x, key, e);
  }
  if (got instanceof Promise) {
    return got.then<Carrier | Rejection, Carrier>(
      (nonce) => looked(d, x, key, nonce),
      (e: unknown) => lookupFailed(d, x, key, e),
    );
  }
  return looked(d, x, key, got);
}

function looked(d: PipelineDeps, x: Exchange, key: Buffer, nonce: NonceInfo | undefined): Carrier | Promise<Rejection> {
  return nonce?.canary ? tripped(d, x, nonce) : { key, nonce };
}

function lookupFailed(d: PipelineDeps, x: Exchange, key: Buffer, e: unknown): Carrier {
  d.ctx.log.error({ err: errName(e), request_id: x.requestId }, "gateway nonce lookup failed");
  return { key, nonce: "failed" };
}

/** A canary: alerted (`nonce.canary_tripped`), then refused like a nonce that does not exist. */
async function tripped(d: PipelineDeps, x: Exchange, nonce: NonceInfo): Promise<Rejection> {
  await d.tripwires.trip(nonce, presentation(x));
  return reject("nonce_invalid", "nonce is not valid");
}
