import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from "node:dns";
import { Transform, type TransformCallback } from "node:stream";
import { Agent, type Dispatcher } from "undici";
import type { Config } from "../config.js";
import type { ErrorCode } from "../core/errors.js";
import { isNonPublicAddress } from "../core/ip-address.js";
import type { UpstreamTarget } from "./upstream.js";

/**
 * The upstream side: undici agents (a keep-alive pool per origin inside each), with the configured connect,
 * headers and body timeouts. Redirects are never followed (rule 3): `Agent#dispatch` does not follow unless a
 * redirect interceptor is composed in, and none is. Two agents so that the resolve-time check of rule 9 applies
 * to every service not explicitly marked insecure: a name that resolves to a private or loopback address fails
 * to connect.
 */

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
type LookupFn = (hostname: string, options: LookupOptions, callback: LookupCallback) => void;
/** The resolver underneath the guard: `dns.lookup` with `all: true`. Injectable so tests need no DNS. */
export type Resolver = (
  hostname: string,
  options: LookupOptions & { all: true },
  callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

/**
 * Rules 9 and 15 at resolve time: the connect-time lookup drops every non-public answer (core/ip-address.ts, which
 * counts IPv6 transition forms by the IPv4 address they carry) and fails with EADDRNOTPUBLIC when none is left, so
 * undici never opens a socket to such an address.
 */
export function createGuardedLookup(resolve: Resolver): LookupFn {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const ok = addresses.filter((a) => !isNonPublicAddress(a.address));
      if (ok.length === 0) {
        const e: NodeJS.ErrnoException = new Error("upstream resolves to a non-public address");
        e.code = "EADDRNOTPUBLIC";
        return callback(e, []);
      }
      if (options.all) return callback(null, ok);
      const first = ok[0] as LookupAddress;
      callback(null, first.address, first.family);
    });
  };
}

export const guardedLookup: LookupFn = createGuardedLookup(dnsLookup);

export interface Forwarder {
  /** Sends one request; the handler (respond.ts) receives the response as it arrives. */
  dispatch(target: UpstreamTarget, opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): void;
  close(): Promise<void>;
}

/** `lookup` is the strict agent's resolver (tests pass a guarded fake one; production uses `guardedLookup`). */
export function createForwarder(cfg: Config["gateway"], lookup: LookupFn = guardedLookup): Forwarder {
  const common = {
    headersTimeout: cfg.headersTimeoutMs,
    bodyTimeout: cfg.bodyTimeoutMs,
    keepAliveTimeout: 4_000,
    keepAliveMaxTimeout: 60_000,
    connections: 256,
    pipelining: 1,
  };
  const strict = new Agent({ ...common, connect: { timeout: cfg.connectTimeoutMs, lookup } });
  const insecure = new Agent({ ...common, connect: { timeout: cfg.connectTimeoutMs } });
  return {
    dispatch: (target, opts, handler) => {
      (target.insecure ? insecure : strict).dispatch(opts, handler);
    },
    async close() {
      await Promise.allSettled([strict.close(), insecure.close()]);
    },
  };
}

/** Raised by the request-body limiter; maps to 413. */
export class BodyTooLargeError extends Error {
  readonly code = "AN_BODY_TOO_LARGE";
}

/** Counts a streamed (chunked) request body and fails as soon as it passes `max` bytes. */
export class BodyLimit extends Transform {
  private seen = 0;
  constructor(private readonly max: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.max) cb(new BodyTooLargeError("request body too large"));
    else cb(null, chunk);
  }
}

/** Maps an upstream failure to a gateway code and a fixed message (never the error's own text: it can hold the URL). */
export function upstreamFailure(err: unknown): { code: ErrorCode; message: string } {
  const code = (err as { code?: unknown } | null)?.code;
  switch (code) {
    case "AN_BODY_TOO_LARGE":
      return { code: "payload_too_large", message: "request body exceeds the gateway limit" };
    case "UND_ERR_CONNECT_TIMEOUT":
      return { code: "upstream_timeout", message: "timed out connecting to the upstream" };
    case "UND_ERR_HEADERS_TIMEOUT":
      return { code: "upstream_timeout", message: "timed out waiting for the upstream's response" };
    case "UND_ERR_BODY_TIMEOUT":
      return { code: "upstream_timeout", message: "timed out reading the upstream's response" };
    case "EADDRNOTPUBLIC":
      return { code: "upstream_error", message: "the upstream resolves to a non-public address" };
    default:
      return { code: "upstream_error", message: "the upstream could not be reached or closed the connection" };
  }
}
