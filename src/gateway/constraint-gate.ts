import type { IncomingMessage } from "node:http";
import {
  type AppliedConstraints,
  type ConstraintFailure,
  checkJsonFields,
  checkTextFields,
  hasDuplicateKeys,
  parseFormFields,
} from "../core/constraint-check.js";

/**
 * The gateway side of request constraints (core/constraint-check.ts evaluates them). Query fields come from the
 * canonical query string. Body fields need the body: only then is it read, bounded by BODY_CAP (and the
 * gateway's maxBodyBytes), parsed as JSON or a form, checked, and the same bytes forwarded with a
 * Content-Length. A body that cannot be checked (other content type, a Content-Encoding, a charset other than
 * UTF-8, invalid UTF-8 or JSON, a duplicate JSON key) fails the first body constraint that applies.
 */

export const BODY_CAP = 1024 * 1024;

export function checkQuery(applied: AppliedConstraints, query: string): ConstraintFailure | null {
  if (applied.query.length === 0) return null;
  return checkTextFields(applied.query, parseFormFields(query));
}

export type BodyRead = { body: Buffer } | { tooLarge: true };

/** Reads the whole request body, or stops at `limit` bytes. `declared` is the Content-Length or -1. */
export function readBody(req: IncomingMessage, declared: number, chunked: boolean, limit: number): Promise<BodyRead> {
  if (declared > limit) return Promise.resolve({ tooLarge: true });
  if (!chunked && declared <= 0) return Promise.resolve({ body: Buffer.alloc(0) });
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        cleanup();
        req.pause();
        resolve({ tooLarge: true });
      } else chunks.push(c);
    };
    const onEnd = () => {
      cleanup();
      resolve({ body: Buffer.concat(chunks, size) });
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    // A client that goes away mid-body: nothing to forward and nobody to answer.
    const onClose = () => {
      if (req.complete) return;
      cleanup();
      reject(Object.assign(new Error("client closed the request"), { code: "ECONNRESET" }));
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

function mediaType(contentType: string | undefined): { type: string; utf8: boolean } | null {
  if (contentType === undefined) return null;
  const [type, ...params] = contentType.split(";");
  let utf8 = true;
  for (const p of params) {
    const [name, value] = p.split("=");
    if (name?.trim().toLowerCase() === "charset") {
      utf8 = /^"?utf-8"?$/i.test(value?.trim() ?? "");
    }
  }
  return { type: (type ?? "").trim().toLowerCase(), utf8 };
}

function isJsonType(type: string): boolean {
  return type === "application/json" || (type.startsWith("application/") && type.endsWith("+json"));
}

/** Checks the body constraints against a fully read body. `headers` are the filtered (forwarded) headers. */
export function checkBody(
  applied: AppliedConstraints,
  headers: Readonly<Record<string, string>>,
  body: Buffer,
): ConstraintFailure | null {
  const fields = applied.body;
  const first = fields[0];
  if (!first) return null;
  const uncheckable = { field: first.key };
  const encoding = headers["content-encoding"];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== "identity") return uncheckable;
  const media = mediaType(headers["content-type"]);
  if (!media?.utf8) return uncheckable;
  let text: string;
  try {
    text = UTF8.decode(body);
  } catch {
    return uncheckable;
  }
  if (isJsonType(media.type)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return uncheckable;
    }
    if (hasDuplicateKeys(text)) return uncheckable;
    return checkJsonFields(fields, parsed);
  }
  if (media.type === "application/x-www-form-urlencoded") return checkTextFields(fields, parseFormFields(text));
  return uncheckable;
}

export type GateResult = { body: Buffer | null } | { field: string } | { tooLarge: true } | { unreadable: true };

/**
 * Checks the constraints that apply to this request. On success, `body` is the buffered body when one had to be
 * read (and `framing.headers` then carries its Content-Length), or null when the body still streams.
 */
export async function enforceConstraints(
  applied: AppliedConstraints,
  req: IncomingMessage,
  query: string,
  framing: { headers: Record<string, string>; contentLength: number; chunked: boolean },
  cap: number,
  /** The body when another gate already read it (an MCP service's JSON-RPC check). */
  preread: Buffer | null = null,
): Promise<GateResult> {
  const failure = checkQuery(applied, query);
  if (failure) return failure;
  if (applied.body.length === 0) return { body: null };
  let read: BodyRead;
  try {
    read = preread ? { body: preread } : await readBody(req, framing.contentLength, framing.chunked, cap);
  } catch {
    return { unreadable: true };
  }
  if ("tooLarge" in read) return read;
  const bodyFailure = checkBody(applied, framing.headers, read.body);
  if (bodyFailure) return bodyFailure;
  // Forwarded exactly as received, now with its length known.
  framing.headers["content-length"] = String(read.body.length);
  return { body: read.body };
}
