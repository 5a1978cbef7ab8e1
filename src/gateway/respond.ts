import type { ServerResponse } from "node:http";
import type { Readable } from "node:stream";
import { createBrotliDecompress, createGunzip, createInflate } from "node:zlib";
import type { Dispatcher } from "undici";
import { GatewayReject } from "./errors.js";
import { HOP_BY_HOP_RESPONSE } from "./headers.js";
import { headerLeaks, Scrubber } from "./scrub.js";

/**
 * Streams the upstream's response back to the agent through the secret scrubber (rule 7). Bodies are never
 * buffered: each decoded chunk is scrubbed and written as it arrives, with backpressure. Compressed bodies
 * (gzip, deflate, br) are decoded so they can be scrubbed and sent as identity; since redaction can change the
 * length, `Content-Length` is dropped for bodies (node sends them chunked). Redirects are handed back untouched
 * (rule 3) apart from header scrubbing: a `Location` carrying the secret is dropped like any other header.
 */

export interface Relayed {
  status: number;
  /** Body bytes written to the agent. */
  bytes: number;
  /** Header values dropped plus body occurrences redacted. */
  scrubbed: number;
  /** True when the upstream used an encoding the gateway cannot decode: nothing was sent, caller answers 502. */
  unsupportedEncoding?: boolean;
}

function decoderFor(encoding: string): NodeJS.ReadWriteStream | null | undefined {
  switch (encoding.trim().toLowerCase()) {
    case "":
    case "identity":
      return null;
    case "gzip":
    case "x-gzip":
      return createGunzip();
    case "deflate":
      return createInflate();
    case "br":
      return createBrotliDecompress();
    default:
      return undefined;
  }
}

export function relayResponse(
  upstream: Dispatcher.ResponseData,
  res: ServerResponse,
  method: string,
  needles: readonly Buffer[],
): Promise<Relayed> {
  const status = upstream.statusCode;
  const src = upstream.headers;
  const out: Record<string, string | string[]> = {};
  let scrubbed = 0;
  const connection = src.connection;
  const named =
    typeof connection === "string"
      ? connection
          .toLowerCase()
          .split(",")
          .map((s) => s.trim())
      : null;
  for (const name in src) {
    const value = src[name];
    if (value === undefined || HOP_BY_HOP_RESPONSE.has(name) || named?.includes(name)) continue;
    if (Array.isArray(value)) {
      const kept = value.filter((v) => !headerLeaks(v, needles));
      scrubbed += value.length - kept.length;
      if (kept.length > 0) out[name] = kept;
    } else if (headerLeaks(value, needles)) {
      scrubbed++;
    } else {
      out[name] = value;
    }
  }
  const body = upstream.body as unknown as Readable;
  // Destroying an undici body emits an error; without a listener that would be an uncaught exception.
  body.on("error", noop);
  const noBody = method === "HEAD" || status === 204 || status === 304;
  if (noBody) {
    body.resume();
    writeHead(res, status, out, body);
    res.end();
    return Promise.resolve({ status, bytes: 0, scrubbed });
  }
  const encoding = typeof out["content-encoding"] === "string" ? out["content-encoding"] : "";
  const decoder = decoderFor(encoding);
  if (decoder === undefined) {
    body.destroy();
    return Promise.resolve({ status, bytes: 0, scrubbed, unsupportedEncoding: true });
  }
  if (decoder) delete out["content-encoding"];
  delete out["content-length"];
  writeHead(res, status, out, body);

  const scrubber = new Scrubber(needles);
  const source: Readable = decoder ? body.pipe(decoder as unknown as NodeJS.WritableStream & Readable) : body;
  let bytes = 0;
  return new Promise<Relayed>((resolve) => {
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      resolve({ status, bytes, scrubbed: scrubbed + scrubber.found });
    };
    const fail = () => {
      body.destroy();
      if (decoder) source.destroy();
      res.destroy();
      done();
    };
    source.on("data", (chunk: Buffer) => {
      const clean = scrubber.push(chunk);
      if (clean.length === 0) return;
      bytes += clean.length;
      if (!res.write(clean)) source.pause();
    });
    res.on("drain", () => source.resume());
    source.once("end", () => {
      const tail = scrubber.end();
      if (tail.length > 0) {
        bytes += tail.length;
        res.end(tail);
      } else {
        res.end();
      }
    });
    body.once("error", fail);
    if (decoder) source.once("error", fail);
    res.once("finish", done);
    res.once("close", () => {
      if (!res.writableFinished) fail();
      done();
    });
  });
}

function noop(): void {}

/** node re-validates every header; anything it refuses (never expected from llhttp-parsed input) is a 502. */
function writeHead(res: ServerResponse, status: number, headers: Record<string, string | string[]>, body: Readable) {
  try {
    res.writeHead(status, headers);
  } catch {
    body.destroy();
    throw new GatewayReject("upstream_error", "the upstream sent a response the gateway cannot relay");
  }
}
