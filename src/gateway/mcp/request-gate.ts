import type { IncomingMessage } from "node:http";
import { hasDuplicateKeys } from "../../core/json-tree.js";
import type { ResponseTransform } from "../body-transform.js";
import { type BodyRead, readBody } from "../constraint-gate.js";
import { auditName, checkMessage, type McpAllowance, type McpDenial, mcpAllowance } from "./allowance.js";
import { toolsFilter } from "./tools-filter.js";

/**
 * The gateway side of an MCP service (template `mcp`), run after the route scope check and before the use is
 * consumed. A POST carries JSON-RPC: its body is read (bounded), every message is checked against the nonce's
 * tool/resource/prompt scopes, and the same bytes are forwarded with a Content-Length. A batch is all or
 * nothing: one member out of scope refuses the whole batch, so nothing is sent. GET (the server's SSE stream)
 * and DELETE (session end) carry no body. Every answer goes through the tools/list filter.
 */

export type McpGateResult =
  | { body: Buffer | null; transform: ResponseTransform }
  | {
      refuse: "scope_denied" | "bad_request" | "payload_too_large";
      message: string;
      /** Set for scope denials: the audit event's `data` (method and tool name, never arguments). */
      audit?: Record<string, unknown>;
    };

const UTF8 = new TextDecoder("utf-8", { fatal: true });

function isJson(contentType: string | undefined): boolean {
  const type = (contentType ?? "").split(";")[0]?.trim().toLowerCase();
  return type === "application/json";
}

export async function gateMcpRequest(
  scopes: readonly string[],
  method: string,
  req: IncomingMessage,
  framing: { headers: Record<string, string>; contentLength: number; chunked: boolean },
  cap: number,
): Promise<McpGateResult> {
  const allowance = mcpAllowance(scopes);
  const headers = framing.headers;
  // The filter reads the answer: it must not come back compressed (a compressed answer is then blocked).
  headers["accept-encoding"] = "identity";
  const transform = toolsFilter(allowance);
  if (method !== "POST") return { body: null, transform };

  const encoding = headers["content-encoding"];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== "identity") {
    return { refuse: "bad_request", message: "an MCP request body must not be compressed" };
  }
  if (!isJson(headers["content-type"])) {
    return { refuse: "bad_request", message: "an MCP request body must be application/json" };
  }
  let read: BodyRead;
  try {
    read = await readBody(req, framing.contentLength, framing.chunked, cap);
  } catch {
    return { refuse: "bad_request", message: "the request body could not be read" };
  }
  if ("tooLarge" in read) return { refuse: "payload_too_large", message: "request body exceeds the gateway limit" };
  const verdict = checkBody(read.body, allowance);
  if (verdict !== null) return verdict;
  headers["content-length"] = String(read.body.length);
  return { body: read.body, transform };
}

/** Null when every message may go; otherwise the refusal. Exported for unit tests. */
export function checkBody(body: Buffer, allowance: McpAllowance): Exclude<McpGateResult, { body: unknown }> | null {
  let parsed: unknown;
  try {
    const text = UTF8.decode(body);
    parsed = JSON.parse(text);
    // The upstream may keep either of two equal keys: which tool it would call cannot be known.
    if (hasDuplicateKeys(text)) return { refuse: "bad_request", message: "the JSON-RPC body has a duplicate key" };
  } catch {
    return { refuse: "bad_request", message: "the request body is not JSON" };
  }
  const batch = Array.isArray(parsed);
  const messages: unknown[] = batch ? (parsed as unknown[]) : [parsed];
  if (messages.length === 0) return { refuse: "bad_request", message: "an empty JSON-RPC batch" };
  for (let i = 0; i < messages.length; i++) {
    const v = checkMessage(messages[i], allowance);
    if ("ok" in v) continue;
    if ("malformed" in v)
      return { refuse: "bad_request", message: batch ? `batch member ${i}: ${v.malformed}` : v.malformed };
    return denial(v.denied, batch ? { index: i, size: messages.length } : null);
  }
  return null;
}

function denial(
  d: McpDenial,
  batch: { index: number; size: number } | null,
): Exclude<McpGateResult, { body: unknown }> {
  const tool = d.tool === undefined ? undefined : auditName(d.tool);
  const method = auditName(d.mcp_method);
  const what = `${JSON.stringify(method)}${tool === undefined ? "" : ` for tool ${JSON.stringify(tool)}`}`;
  const message = batch
    ? `${what} (batch member ${batch.index}) is outside this nonce's scope: the whole batch of ${batch.size} was refused, nothing was sent`
    : `${what} is outside this nonce's scope`;
  const audit: Record<string, unknown> = { mcp_method: method };
  if (tool !== undefined) audit.tool = tool;
  if (batch) audit.batch_size = batch.size;
  return { refuse: "scope_denied", message, audit };
}
