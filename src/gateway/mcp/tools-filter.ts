import { hasDuplicateKeys } from "../../core/json-tree.js";
import type { BodyTransform, ResponseTransform } from "../body-transform.js";
import { type McpAllowance, toolAllowed } from "./allowance.js";

/**
 * Filters `tools/list` answers to the tools the nonce allows, in both shapes Streamable HTTP answers with:
 * an `application/json` body (one message or a batch) and a `text/event-stream` (each event's data is one
 * message). Any JSON-RPC result carrying a `tools` array is filtered, whatever request it answers: a resumed
 * stream (GET with Last-Event-ID) can replay an answer to an earlier POST. Messages that need no change are
 * relayed byte for byte (re-serialising would round large numbers); one with a duplicate key is re-serialised
 * from its parsed form, so the agent reads exactly what was filtered.
 */

const SSE_EVENT_CAP = 4 * 1024 * 1024;

export class SseEventTooLarge extends Error {
  readonly code = "AN_SSE_EVENT_TOO_LARGE";
}

/** Filters one parsed message (or batch) in place; true when something was removed. */
function filterParsed(msg: unknown, a: McpAllowance): boolean {
  if (Array.isArray(msg)) {
    let changed = false;
    for (const m of msg) changed = filterParsed(m, a) || changed;
    return changed;
  }
  if (msg === null || typeof msg !== "object") return false;
  const result = (msg as { result?: unknown }).result;
  if (result === null || typeof result !== "object") return false;
  const tools = (result as { tools?: unknown }).tools;
  if (!Array.isArray(tools)) return false;
  const kept = tools.filter(
    (t) =>
      t !== null &&
      typeof t === "object" &&
      typeof (t as { name?: unknown }).name === "string" &&
      toolAllowed(a, (t as { name: string }).name),
  );
  if (kept.length === tools.length) return false;
  (result as { tools: unknown[] }).tools = kept;
  return true;
}

/** The filtered JSON text, or null when `text` may be relayed as it is. */
export function filterJsonText(text: string, a: McpAllowance): string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON: a client cannot read a tool list out of it either.
    return null;
  }
  const changed = filterParsed(parsed, a);
  return changed || hasDuplicateKeys(text) ? JSON.stringify(parsed) : null;
}

function jsonTransform(a: McpAllowance): BodyTransform {
  const chunks: Buffer[] = [];
  return {
    whole: true,
    push(chunk) {
      chunks.push(chunk);
      return Buffer.alloc(0);
    },
    end() {
      const raw = Buffer.concat(chunks);
      const out = filterJsonText(raw.toString("utf8"), a);
      return out === null ? raw : Buffer.from(out);
    },
  };
}

const LF = 0x0a;
const CR = 0x0d;

/** Index just past the blank line that ends the first event in `buf`, or -1 when it is not complete yet. */
export function eventEnd(buf: Buffer): number {
  let lineEmpty = true;
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i];
    if (b !== LF && b !== CR) {
      lineEmpty = false;
      continue;
    }
    let end = i + 1;
    if (b === CR) {
      // A CR at the end of what has arrived may be the first half of a CRLF.
      if (end === buf.length) return -1;
      if (buf[end] === LF) end++;
    }
    if (lineEmpty) return end;
    lineEmpty = true;
    i = end - 1;
  }
  return -1;
}

/** One SSE event (with its terminating blank line): filtered, or returned as is. */
export function filterEvent(raw: Buffer, a: McpAllowance): Buffer {
  const text = raw.toString("utf8");
  const lines = text.split(/\r\n|\r|\n/);
  const data: string[] = [];
  let firstData = -1;
  lines.forEach((line, i) => {
    if (line === "data" || line.startsWith("data:")) {
      if (firstData < 0) firstData = i;
      const v = line.slice(5);
      data.push(v.startsWith(" ") ? v.slice(1) : v);
    }
  });
  if (data.length === 0) return raw;
  const out = filterJsonText(data.join("\n"), a);
  if (out === null) return raw;
  const kept: string[] = [];
  lines.forEach((line, i) => {
    if (i === firstData) kept.push(`data: ${out}`);
    else if (line !== "" && line !== "data" && !line.startsWith("data:")) kept.push(line);
  });
  return Buffer.from(`${kept.join("\n")}\n\n`);
}

function sseTransform(a: McpAllowance): BodyTransform {
  let pending: Buffer = Buffer.alloc(0);
  return {
    whole: false,
    push(chunk) {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      const out: Buffer[] = [];
      for (;;) {
        const end = eventEnd(pending);
        if (end < 0) break;
        out.push(filterEvent(pending.subarray(0, end), a));
        pending = pending.subarray(end);
      }
      // An event that never ends cannot be checked: the relay cuts the stream rather than pass it on.
      if (pending.length > SSE_EVENT_CAP) throw new SseEventTooLarge("an SSE event exceeds the gateway limit");
      return out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out);
    },
    end() {
      // A client may still dispatch an unterminated last event: it is filtered like any other.
      const rest = pending;
      pending = Buffer.alloc(0);
      return rest.length === 0 ? rest : filterEvent(rest, a);
    },
  };
}

function contentType(headers: Readonly<Record<string, string | string[]>>): string {
  const v = headers["content-type"];
  return (typeof v === "string" ? v : "").split(";")[0]?.trim().toLowerCase() ?? "";
}

export function toolsFilter(a: McpAllowance): ResponseTransform {
  // Every answer, whatever its status or declared type: a lenient client may parse JSON out of any of them.
  return (_status, headers) => {
    const encoding = headers["content-encoding"];
    if (Array.isArray(encoding)) return "block";
    if (typeof encoding === "string" && encoding.trim().toLowerCase() !== "identity") return "block";
    return contentType(headers) === "text/event-stream" ? sseTransform(a) : jsonTransform(a);
  };
}
