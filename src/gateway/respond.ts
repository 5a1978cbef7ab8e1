import type { IncomingHttpHeaders, ServerResponse } from "node:http";
import { createBrotliDecompress, createGunzip, createInflate } from "node:zlib";
import type { Dispatcher } from "undici";
import { type BodyTransform, type ResponseTransform, TRANSFORM_BODY_CAP } from "./body-transform.js";
import { HOP_BY_HOP_RESPONSE } from "./headers.js";
import { Scrubber } from "./scrub.js";

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
 * - compressed (gzip, deflate, br, also stacked: `gzip, br` or one `Content-Encoding` header per coding): every
 *   coding is undone, last applied first, so the body can be scrubbed, then streamed as identity.
 * Blocked (rule 13: nothing is sent, the caller answers 502 `response_blocked`), because it could not be scrubbed
 * safely: a partial response (206 or any `Content-Range`: it can start inside the secret, see headers.ts), a
 * content-coding the gateway does not decode or more than MAX_CODINGS of them, and a transfer-coding other than
 * `chunked` (undici removes the chunking but would hand over a `gzip` transfer-coding still compressed).
 * Streamed bodies lose `Content-Length` (redaction can change the length; node sends them chunked).
 * Redirects are handed back untouched (rule 3) apart from header scrubbing: a header carrying the secret, a
 * `Location` included, is dropped.
 */

export const SMALL_BODY_BYTES = 64 * 1024;

/** Stacked content-codings decoded at most (real servers send one; each adds a decompressor). */
export const MAX_CODINGS = 3;

export type RelayOutcome =
  /** Nothing was written to the agent: the caller answers with an error. */
  | { kind: "failed"; error: unknown }
  /** The response could not be scrubbed safely: nothing was sent, the caller answers 502 `response_blocked`. */
  | { kind: "blocked"; scrubbed: number; reason: string }
  | {
      kind: "relayed";
      status: number;
      /** Body bytes written to the agent. */
      bytes: number;
      /** Header values dropped plus body occurrences redacted. */
      scrubbed: number;
    };

type Decoder = ReturnType<typeof createGunzip>;

const DECODERS: Record<string, () => Decoder> = {
  gzip: createGunzip,
  "x-gzip": createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};

function tokens(value: string | string[] | undefined): string[] {
  // Most responses send neither header: nothing to split.
  if (value === undefined) return [];
  const out: string[] = [];
  for (const v of Array.isArray(value) ? value : [value ?? ""]) {
    for (const t of v.split(",")) {
      const name = t.trim().toLowerCase();
      if (name !== "" && name !== "identity") out.push(name);
    }
  }
  return out;
}

/**
 * The decoders that undo `Content-Encoding` (a string, or an array when the header was repeated), in the order
 * the body must pass through them (the last coding applied is undone first); null when one cannot be decoded.
 */
export function decodersFor(value: string | string[] | undefined): Decoder[] | null {
  const codings = tokens(value);
  if (codings.length > MAX_CODINGS || codings.some((c) => !Object.hasOwn(DECODERS, c))) return null;
  return codings.reverse().map((c) => (DECODERS[c] as () => Decoder)());
}

/** Why a response head cannot be relayed safely, or null. `hasBody` is false for HEAD, 204 and 304. */
function unscrubbable(status: number, src: IncomingHttpHeaders, hasBody: boolean): string | null {
  if (status === 206 || src["content-range"] !== undefined) {
    return "the upstream sent a partial response, which the gateway cannot scrub";
  }
  if (!hasBody) return null;
  if (tokens(src["transfer-encoding"]).some((t) => t !== "chunked")) {
    return "the upstream used a transfer-encoding the gateway cannot inspect";
  }
  return null;
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
  /** The decoder chain: the body is written to the first, scrubbed from the last. */
  private decoders: Decoder[] = [];
  private clientGone = false;
  private broken = false;
  private body: BodyTransform | null = null;
  /** The upstream's Content-Length as relayed, when `filterHeaders` left it out of the head. */
  private declaredLength: string | string[] | undefined = undefined;
  private collected = 0;

  constructor(
    private readonly res: ServerResponse,
    private readonly method: string,
    needles: readonly Buffer[],
    private readonly transform?: ResponseTransform,
  ) {
    this.scrubber = new Scrubber(needles);
    this.outcome = new Promise((resolve) => {
      this.resolveOutcome = resolve;
    });
    // A response closes once: a plain listener (no once-wrapper per request).
    res.on("close", this.onClientClose);
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
    this.destroyDecoders();
    if (this.mode === "stream" || this.mode === "decode") this.relayed();
    else this.settle({ kind: "failed", error: gone });
    this.mode = "done";
  };

  /** Only a streamed body waits for the agent's socket: the listener is made then. */
  private onDrain(): void {
    if (this.mode === "decode") this.decoders.at(-1)?.resume();
    else this.controller?.resume();
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.clientGone) controller.abort(new ClientGone("the agent closed the connection"));
  }

  onResponseStart(controller: Dispatcher.DispatchController, status: number, src: IncomingHttpHeaders): void {
    // 1xx informational heads are not relayed (node answers `Expect: 100-continue` itself).
    if (status < 200 || this.mode !== "waiting") return;
    this.headersAt = performance.now();
    this.status = status;
    const hasBody = !(this.method === "HEAD" || status === 204 || status === 304);
    // A relayed body gets its own framing (below): its Content-Length and Content-Encoding are left out of the head
    // as it is built, unless a transform is to see them (deleting them afterwards makes a slower object).
    const framed = hasBody && this.transform === undefined;
    const out = this.filterHeaders(src, framed);
    this.headers = out;
    const unsafe = unscrubbable(status, src, hasBody);
    if (unsafe !== null) {
      this.block(controller, unsafe);
      return;
    }
    if (!hasBody) {
      // No body to relay; whatever the upstream sends after the head is dropped.
      this.mode = "done";
      if (this.writeHead(controller)) {
        this.res.end();
        this.relayed();
      }
      return;
    }
    // From the upstream's own head: a dropped (leaking) Content-Encoding must not make a body look like identity.
    const decoders = decodersFor(src["content-encoding"]);
    if (decoders === null) {
      this.block(controller, "the upstream used a content-encoding the gateway cannot inspect");
      return;
    }
    // A transform (body-transform.ts) rewrites the body before the scrubber sees it; one that needs the whole body
    // gets the small-body path (bounded by TRANSFORM_BODY_CAP) and so cannot take an encoded body.
    const transformed = this.transform?.(status, out) ?? null;
    if (transformed === "block" || (transformed?.whole && decoders.length > 0)) {
      this.block(controller, "the upstream's answer could not be inspected");
      return;
    }
    this.body = transformed;
    const length = framed ? this.declaredLength : out["content-length"];
    const declared = typeof length === "string" ? Number(length) : Number.NaN;
    if (!framed) {
      delete out["content-length"];
      delete out["content-encoding"];
    }
    if (decoders.length === 0 && (transformed?.whole || (declared >= 0 && declared <= SMALL_BODY_BYTES))) {
      this.mode = "small";
      return;
    }
    this.decoders = decoders;
    if (!this.writeHead(controller)) return;
    this.res.on("drain", () => this.onDrain());
    const first = decoders[0];
    const last = decoders.at(-1);
    if (first === undefined || last === undefined) {
      this.mode = "stream";
      return;
    }
    this.mode = "decode";
    for (let i = 0; i + 1 < decoders.length; i++) (decoders[i] as Decoder).pipe(decoders[i + 1] as Decoder);
    first.on("drain", () => this.controller?.resume());
    last.on("data", (chunk: Buffer) => {
      if (!this.send(chunk)) last.pause();
    });
    last.once("end", () => this.finishStream());
    for (const d of decoders) {
      d.once("error", () => {
        if (this.mode === "decode") this.breakStream();
      });
    }
  }

  /** Nothing has been written: the upstream's response is dropped and the caller answers 502. */
  private block(controller: Dispatcher.DispatchController, reason: string): void {
    this.mode = "done";
    // Settled first: abort() reports back through onResponseError at once, which would settle as "failed".
    this.settle({ kind: "blocked", scrubbed: this.scrubbed, reason });
    controller.abort(new Error("response blocked"));
  }

  private destroyDecoders(): void {
    for (const d of this.decoders) d.destroy();
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
      case "decode": {
        const first = this.decoders[0];
        if (first && !first.write(chunk)) controller.pause();
        return;
      }
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
        this.decoders[0]?.end();
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
    this.destroyDecoders();
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

  /**
   * The upstream's head minus hop-by-hop headers and every value that carries the secret (counted). With `framed`,
   * Content-Length and Content-Encoding are not copied (the relayed Content-Length is kept in `declaredLength`).
   */
  private filterHeaders(src: IncomingHttpHeaders, framed: boolean): Record<string, string | string[]> {
    const out: Record<string, string | string[]> = {};
    const connection = src.connection;
    // `keep-alive`, what nearly every upstream sends, names only a header that is hop-by-hop anyway.
    const named =
      typeof connection === "string" && connection !== "keep-alive"
        ? connection
            .toLowerCase()
            .split(",")
            .map((s) => s.trim())
        : null;
    for (const name in src) {
      const value = src[name];
      if (value === undefined || HOP_BY_HOP_RESPONSE.has(name) || named?.includes(name)) continue;
      let kept: string | string[];
      if (Array.isArray(value)) {
        kept = value.filter((v) => !this.scrubber.leaks(v));
        this.scrubbed += value.length - kept.length;
        if (kept.length === 0) continue;
      } else if (this.scrubber.leaks(value)) {
        this.scrubbed++;
        continue;
      } else {
        kept = value;
      }
      if (framed && (name === "content-length" || name === "content-encoding")) {
        if (name === "content-length") this.declaredLength = kept;
      } else {
        out[name] = kept;
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
      this.destroyDecoders();
      controller.abort(new Error("unrelayable response"));
      this.settle({ kind: "failed", error: new UnrelayableResponse("the upstream sent a response head node refuses") });
      return false;
    }
  }
}

function noop(): void {}
