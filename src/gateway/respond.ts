import type { IncomingHttpHeaders, ServerResponse } from "node:http";
import { createBrotliDecompress, createGunzip, createInflate } from "node:zlib";
import type { Dispatcher } from "undici";
import { type BodyTransform, type ResponseTransform, TRANSFORM_BODY_CAP } from "./body-transform.js";
import { HOP_BY_HOP_RESPONSE } from "./headers.js";
import { headerLeaks, Scrubber } from "./scrub.js";

/**
 * The upstream's response, relayed to the agent through the secret scrubber (rule 7). This is an undici
 * dispatch handler, not a consumer of `request()`'s body stream: on the gateway's hot path a Readable per
 * response (and a promise per chunk) cost about as much as everything else the gateway does.
 *
 * Three ways a body goes back:
 * - small (a declared `Content-Length` up to SMALL_BODY_BYTES, identity encoding): collected, scrubbed as a whole
 *   and written with one `end()` and its exact (post-redaction) length. Nothing reaches the agent until the whole
 *   body is in, so an upstream that fails half-way gets a clean 502 instead of a truncated answer.
 * - streamed (identity, no or a larger declared length, SSE): each chunk is scrubbed and written as it arrives,
 *   with backpressure both ways; only a tail that could still become a match is held back, so SSE is not delayed.
 * - compressed (gzip, deflate, br): decoded so it can be scrubbed, then streamed as identity. Any other
 *   encoding cannot be inspected and is blocked (the caller answers 502).
 * Streamed bodies lose `Content-Length` (redaction can change the length; node sends them chunked).
 * Redirects are handed back untouched (rule 3) apart from header scrubbing: a header carrying the secret, a
 * `Location` included, is dropped.
 * An optional ResponseTransform (body-transform.ts) rewrites the body before the scrubber sees it; one that needs
 * the whole body gets the small-body path (bounded by TRANSFORM_BODY_CAP, 502 beyond).
 */

export const SMALL_BODY_BYTES = 64 * 1024;

export type RelayOutcome =
  /** Nothing was written to the agent: the caller answers with an error. */
  | { kind: "failed"; error: unknown }
  /** The upstream used an encoding the gateway cannot decode: nothing was sent, the caller answers 502. */
  | { kind: "blocked"; scrubbed: number }
  | {
      kind: "relayed";
      status: number;
      /** Body bytes written to the agent. */
      bytes: number;
      /** Header values dropped plus body occurrences redacted. */
      scrubbed: number;
    };

type Decoder = ReturnType<typeof createGunzip>;

function decoderFor(encoding: string): Decoder | null | undefined {
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

/** Thrown (as the `failed` outcome's error) when node refuses a header the upstream sent. */
export class UnrelayableResponse extends Error {
  readonly code = "AN_UNRELAYABLE_RESPONSE";
}

class ClientGone extends Error {
  readonly code = "AN_CLIENT_GONE";
}

type Mode = "waiting" | "done" | "small" | "stream" | "decode";

export class RelayHandler implements Dispatcher.DispatchHandler {
  /** Resolves once the outcome is known; the response may still be draining to the agent. */
  readonly outcome: Promise<RelayOutcome>;
  /** performance.now() when the upstream's response head arrived (0 until then). */
  headersAt = 0;
  private resolveOutcome!: (o: RelayOutcome) => void;
  private controller: Dispatcher.DispatchController | null = null;
  private mode: Mode = "waiting";
  private status = 0;
  private headers: Record<string, string | string[]> = {};
  private scrubbed = 0;
  private bytes = 0;
  private readonly scrubber: Scrubber;
  private chunks: Buffer[] = [];
  private decoder: Decoder | null = null;
  private clientGone = false;
  private broken = false;
  private body: BodyTransform | null = null;
  private collected = 0;

  constructor(
    private readonly res: ServerResponse,
    private readonly method: string,
    private readonly needles: readonly Buffer[],
    private readonly transform?: ResponseTransform,
  ) {
    this.scrubber = new Scrubber(needles);
    this.outcome = new Promise((resolve) => {
      this.resolveOutcome = resolve;
    });
    res.once("close", this.onClientClose);
  }

  private settle(o: RelayOutcome): void {
    const resolve = this.resolveOutcome;
    this.resolveOutcome = noop;
    resolve(o);
  }

  private relayed(): void {
    this.settle({
      kind: "relayed",
      status: this.status,
      bytes: this.bytes,
      scrubbed: this.scrubbed + this.scrubber.found,
    });
  }

  private readonly onClientClose = () => {
    if (this.res.writableFinished) return;
    this.clientGone = true;
    const gone = new ClientGone("the agent closed the connection");
    this.controller?.abort(gone);
    this.decoder?.destroy();
    if (this.mode === "stream" || this.mode === "decode") this.relayed();
    else this.settle({ kind: "failed", error: gone });
    this.mode = "done";
  };

  private readonly onDrain = () => {
    if (this.mode === "decode") this.decoder?.resume();
    else this.controller?.resume();
  };

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.clientGone) controller.abort(new ClientGone("the agent closed the connection"));
  }

  onResponseStart(controller: Dispatcher.DispatchController, status: number, src: IncomingHttpHeaders): void {
    // 1xx informational heads are not relayed (node answers `Expect: 100-continue` itself).
    if (status < 200 || this.mode !== "waiting") return;
    this.headersAt = performance.now();
    this.status = status;
    const out = this.filterHeaders(src);
    this.headers = out;
    if (this.method === "HEAD" || status === 204 || status === 304) {
      // No body to relay; whatever the upstream sends after the head is dropped.
      this.mode = "done";
      if (this.writeHead(controller)) {
        this.res.end();
        this.relayed();
      }
      return;
    }
    const encoding = typeof out["content-encoding"] === "string" ? out["content-encoding"] : "";
    const decoder = decoderFor(encoding);
    if (decoder === undefined) {
      this.mode = "done";
      controller.abort(new Error("unsupported content-encoding"));
      this.settle({ kind: "blocked", scrubbed: this.scrubbed });
      return;
    }
    const transformed = this.transform?.(status, out) ?? null;
    if (transformed === "block" || (transformed?.whole && decoder !== null)) {
      this.mode = "done";
      controller.abort(new Error("uninspectable response"));
      this.settle({ kind: "blocked", scrubbed: this.scrubbed });
      return;
    }
    this.body = transformed;
    const declared = typeof out["content-length"] === "string" ? Number(out["content-length"]) : Number.NaN;
    delete out["content-length"];
    if (decoder === null && (transformed?.whole || (declared >= 0 && declared <= SMALL_BODY_BYTES))) {
      this.mode = "small";
      return;
    }
    if (decoder) {
      delete out["content-encoding"];
      this.decoder = decoder;
    }
    if (!this.writeHead(controller)) return;
    this.res.on("drain", this.onDrain);
    if (decoder === null) {
      this.mode = "stream";
      return;
    }
    this.mode = "decode";
    decoder.on("drain", () => this.controller?.resume());
    decoder.on("data", (chunk: Buffer) => {
      if (!this.send(chunk)) decoder.pause();
    });
    decoder.once("end", () => this.finishStream());
    decoder.once("error", () => {
      if (this.mode === "decode") this.breakStream();
    });
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    switch (this.mode) {
      case "small":
        this.chunks.push(chunk);
        if (this.body?.whole) {
          this.collected += chunk.length;
          if (this.collected > TRANSFORM_BODY_CAP) this.failUntransformable(controller);
        }
        return;
      case "stream":
        if (!this.send(chunk)) controller.pause();
        return;
      case "decode":
        if (this.decoder && !this.decoder.write(chunk)) controller.pause();
        return;
      default:
        return;
    }
  }

  onResponseEnd(controller: Dispatcher.DispatchController): void {
    switch (this.mode) {
      case "small": {
        this.mode = "done";
        let raw = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks);
        this.chunks = [];
        if (this.body) {
          try {
            raw = Buffer.concat([this.body.push(raw), this.body.end()]);
          } catch {
            this.failUntransformable(controller);
            return;
          }
        }
        const head = this.scrubber.push(raw);
        const tail = this.scrubber.end();
        const body = tail.length > 0 ? Buffer.concat([head, tail]) : head;
        this.headers["content-length"] = String(body.length);
        if (!this.writeHead(controller)) return;
        this.bytes = body.length;
        this.res.end(body);
        this.relayed();
        return;
      }
      case "stream":
        this.finishStream();
        return;
      case "decode":
        this.decoder?.end();
        return;
      default:
        return;
    }
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    const mode = this.mode;
    this.mode = "done";
    this.chunks = [];
    if (mode === "stream" || mode === "decode") {
      this.breakStream();
      return;
    }
    // Before anything was written (no head yet, or a small body still being collected): the caller answers.
    this.settle({ kind: "failed", error });
  }

  /** Scrubs and writes one chunk; false when the agent's socket wants us to wait. */
  private send(chunk: Buffer): boolean {
    let input = chunk;
    if (this.body) {
      try {
        input = this.body.push(chunk);
      } catch {
        this.breakStream();
        return true;
      }
    }
    const clean = this.scrubber.push(input);
    if (clean.length === 0) return true;
    this.bytes += clean.length;
    return this.res.write(clean);
  }

  private finishStream(): void {
    if (this.mode !== "stream" && this.mode !== "decode") return;
    let rest: Buffer = Buffer.alloc(0);
    try {
      if (this.body) rest = this.scrubber.push(this.body.end());
    } catch {
      this.breakStream();
      return;
    }
    this.mode = "done";
    const scrubbedTail = this.scrubber.end();
    const tail = rest.length > 0 ? Buffer.concat([rest, scrubbedTail]) : scrubbedTail;
    if (tail.length > 0) {
      this.bytes += tail.length;
      this.res.end(tail);
    } else {
      this.res.end();
    }
    this.relayed();
  }

  /** The body broke half-way (upstream reset, timeout, bad compressed data): the agent's response is cut. */
  private breakStream(): void {
    if (this.broken) return;
    this.broken = true;
    this.mode = "done";
    this.controller?.abort(new Error("relay stopped"));
    this.decoder?.destroy();
    this.res.destroy();
    this.relayed();
  }

  /** A whole body the transform could not take (too large, or it threw): nothing was sent, the caller answers. */
  private failUntransformable(controller: Dispatcher.DispatchController): void {
    this.mode = "done";
    this.chunks = [];
    controller.abort(new Error("untransformable response"));
    this.settle({ kind: "failed", error: new UnrelayableResponse("the upstream's answer could not be inspected") });
  }

  private filterHeaders(src: IncomingHttpHeaders): Record<string, string | string[]> {
    const out: Record<string, string | string[]> = {};
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
        const kept = value.filter((v) => !headerLeaks(v, this.needles));
        this.scrubbed += value.length - kept.length;
        if (kept.length > 0) out[name] = kept;
      } else if (headerLeaks(value, this.needles)) {
        this.scrubbed++;
      } else {
        out[name] = value;
      }
    }
    return out;
  }

  /** node re-validates every header; one it refuses (never expected from llhttp-parsed input) fails the relay. */
  private writeHead(controller: Dispatcher.DispatchController): boolean {
    try {
      this.res.writeHead(this.status, this.headers);
      return true;
    } catch {
      this.mode = "done";
      this.decoder?.destroy();
      controller.abort(new Error("unrelayable response"));
      this.settle({ kind: "failed", error: new UnrelayableResponse("the upstream sent a response head node refuses") });
      return false;
    }
  }
}

function noop(): void {}
