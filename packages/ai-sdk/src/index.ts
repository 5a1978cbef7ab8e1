import {
  type AgentNonce,
  AgentNonceError,
  type CreateNonceParams,
  describeRequestTool,
  formatToolResponse,
  gatewayRequest,
  isErrorCode,
  type NonceView,
  openToolNonce,
  TOOL_REQUEST_JSON_SCHEMA,
  type ToolRequest,
  toolName,
} from "@agent-nonce/sdk";
import { jsonSchema, type Tool, tool } from "ai";

/**
 * A service as one AI SDK tool, backed by a nonce issued for one task: `createAgentNonceTool` issues the nonce
 * (through the issuer's `AgentNonce` client), reads what it allows from the gateway (so the description lists
 * exactly the allowed routes), and returns a handle whose `close()` — or the end of an `await using` block —
 * revokes it. The tool's result is `{status, content_type, body, truncated}`; a refusal (scope_denied, an
 * expired nonce, …) is thrown as an AgentNonceError carrying the gateway's code, which the AI SDK turns into a
 * `tool-error` the model sees (the message starts with the code) — the generation goes on. The nonce never
 * appears in a result, an error or the description.
 */

export interface AgentNonceToolOptions extends CreateNonceParams {
  /** An `AgentNonce` client with an issuer (or admin) key. */
  client: AgentNonce;
  /** Tool name; default `<service>_request`. */
  name?: string;
  /** Longest response body handed to the model, in characters (default 100 000). */
  maxBodyChars?: number;
}

export interface AgentNonceToolResult {
  status: number;
  content_type: string | null;
  body: string;
  truncated: boolean;
}

export interface AgentNonceTool extends AsyncDisposable {
  /** The tool name (`stripe_request`). */
  readonly name: string;
  readonly tool: Tool<ToolRequest, AgentNonceToolResult>;
  /** `{[name]: tool}`: spread into `generateText({ tools })`. */
  readonly tools: Record<string, Tool<ToolRequest, AgentNonceToolResult>>;
  /** The nonce's public id (`nce_…`): safe to log, for status and audit queries. */
  readonly nonceId: string;
  /** What the nonce allowed when the tool was made. */
  readonly view: NonceView;
  /** Revokes the nonce (idempotent). Call it when the task ends, or use `await using`. */
  close(): Promise<void>;
}

const asyncDispose: typeof Symbol.asyncDispose =
  (Symbol as { asyncDispose?: typeof Symbol.asyncDispose }).asyncDispose ??
  (Symbol.for("Symbol.asyncDispose") as typeof Symbol.asyncDispose);

export async function createAgentNonceTool(opts: AgentNonceToolOptions): Promise<AgentNonceTool> {
  const { client, name, maxBodyChars, ...params } = opts;
  const { nonce, target, view } = await openToolNonce(() => client.nonces.create(params), maxBodyChars);
  const t = tool<ToolRequest, AgentNonceToolResult>({
    description: describeRequestTool(view),
    inputSchema: jsonSchema<ToolRequest>(TOOL_REQUEST_JSON_SCHEMA as unknown as Parameters<typeof jsonSchema>[0]),
    execute: async (input) => {
      const r = await gatewayRequest(target, input);
      if (r.error) {
        const code = isErrorCode(r.error.code) ? r.error.code : "internal";
        throw new AgentNonceError(code, formatToolResponse(r), { status: r.status });
      }
      return { status: r.status, content_type: r.contentType, body: r.body, truncated: r.truncated };
    },
  });
  const toolKey = name ?? toolName(view.service, "request");
  const close = () => nonce.revoke();
  return { name: toolKey, tool: t, tools: { [toolKey]: t }, nonceId: nonce.id, view, close, [asyncDispose]: close };
}
