import {
  type AgentNonce,
  type CreateNonceParams,
  describeRequestTool,
  formatToolResponse,
  gatewayRequest,
  type NonceView,
  openToolNonce,
  TOOL_REQUEST_JSON_SCHEMA,
  type ToolRequest,
  type ToolResponse,
  toolName,
} from "@agent-nonce/sdk";
import { ToolMessage } from "@langchain/core/messages";
import { DynamicStructuredTool } from "@langchain/core/tools";

/**
 * A service as one LangChain.js tool, backed by a nonce issued for one task: `createAgentNonceTool` issues the
 * nonce (through the issuer's `AgentNonce` client), reads what it allows from the gateway (so the tool's
 * description lists exactly the allowed routes), and returns a handle whose `close()` — or the end of an
 * `await using` block — revokes it. The model only ever sees routes, statuses and bodies: the nonce stays in the
 * handle and the real credential stays in the gateway. A refusal (scope_denied, an expired nonce, …) is a
 * ToolMessage with `status: "error"` whose text starts with the gateway's code, never an exception.
 */

export interface AgentNonceToolOptions extends CreateNonceParams {
  /** An `AgentNonce` client with an issuer (or admin) key. */
  client: AgentNonce;
  /** Tool name; default `<service>_request`. */
  name?: string;
  /** Longest response body handed to the model, in characters (default 100 000). */
  maxBodyChars?: number;
}

export interface AgentNonceTool extends AsyncDisposable {
  /** Bind it to a model (`model.bindTools([t.tool])`) or give it to an agent. */
  readonly tool: DynamicStructuredTool;
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
  const toolNameResolved = name ?? toolName(view.service, "request");
  const tool: DynamicStructuredTool = new DynamicStructuredTool({
    name: toolNameResolved,
    description: describeRequestTool(view),
    schema: TOOL_REQUEST_JSON_SCHEMA as unknown as Record<string, unknown>,
    func: async (input: Record<string, unknown>, _run, config): Promise<ToolMessage | string> => {
      const r: ToolResponse = await gatewayRequest(target, input as unknown as ToolRequest);
      const content = formatToolResponse(r);
      const toolCallId = (config as { toolCall?: { id?: string } } | undefined)?.toolCall?.id;
      // Called with a model's tool call: a ToolMessage, so a refusal carries status "error" for the model.
      if (toolCallId) {
        return new ToolMessage({
          content,
          tool_call_id: toolCallId,
          name: toolNameResolved,
          status: r.error ? "error" : "success",
          artifact: r,
        });
      }
      return content;
    },
  });
  const close = () => nonce.revoke();
  return { tool, nonceId: nonce.id, view, close, [asyncDispose]: close };
}
