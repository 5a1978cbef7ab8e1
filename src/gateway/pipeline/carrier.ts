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

export async function carrier(d: PipelineDeps, x: Exchange): Promise<Carrier | Rejection> {
  const { req } = x;
  // llhttp takes "GET /x\r\n" (no version) as HTTP/0.9 and still reads headers after it: refuse (rule 6).
  if (req.httpVersionMajor !== 1) return reject("bad_request", "unsupported HTTP version");
  const found = extractNonce(req.rawHeaders);
  if ("missing" in found) return reject("nonce_missing", "no nonce presented");
  if ("conflict" in found) return reject("bad_request", "more than one nonce presented");
  if (!isWellFormed(found.token, "an")) return reject("nonce_invalid", "nonce is not valid");
  const key = tokenKey(found.token);
  let nonce: Carrier["nonce"];
  try {
    const got = d.caches.nonce(key);
    nonce = got instanceof Promise ? await got : got;
  } catch (e) {
    d.ctx.log.error({ err: errName(e), request_id: x.requestId }, "gateway nonce lookup failed");
    nonce = "failed";
  }
  if (nonce !== undefined && nonce !== "failed" && nonce.canary) {
    await d.tripwires.trip(nonce, presentation(x));
    return reject("nonce_invalid", "nonce is not valid");
  }
  return { key, nonce };
}
