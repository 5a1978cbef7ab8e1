import {
  describeRequestTool,
  fetchNonceView,
  formatToolResponse,
  type GatewayTarget,
  gatewayRequest,
  isAgentNonceError,
  type NonceView,
  nonceViewJson,
  TOOL_METHODS,
  toolName,
} from "@agent-nonce/sdk";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";

/**
 * The MCP server's two tools for one nonce (DESIGN.md "Agent integrations"): `<service>_request` sends one HTTP
 * request through the gateway, `<service>_scopes` reads the nonce's own view. The nonce comes from `target()`
 * on every call (issuer mode renews it underneath) and never appears in a tool's description or result: the
 * model sees routes, statuses and bodies, never the credential nor the nonce.
 */

export interface ToolSource {
  /** The current gateway target (URL + nonce). */
  target(): GatewayTarget;
}

const scalar = z.union([z.string(), z.number(), z.boolean()]);

const requestInput = {
  method: z.enum(TOOL_METHODS).describe("HTTP method"),
  path: z.string().min(1).max(4096).describe("Path on the service, starting with /, e.g. /v1/customers"),
  query: z
    .record(z.string(), z.union([scalar, z.array(scalar)]))
    .optional()
    .describe("Query parameters"),
  body: z.unknown().optional().describe("Request body: a JSON value (sent as JSON) or a string (sent as is)"),
  headers: z.record(z.string(), z.string()).optional().describe("Extra request headers"),
};

const requestOutput = {
  status: z.number().int(),
  content_type: z.string().nullable(),
  body: z.string(),
  truncated: z.boolean(),
};

const viewOutput = {
  service: z.string(),
  routes: z.array(z.string()),
  constraints: z.record(z.string(), z.unknown()).nullable(),
  expires_at: z.string(),
  uses_left: z.number().int().nullable(),
};

const text = (t: string) => [{ type: "text" as const, text: t }];

export function createAgentMcpServer(source: ToolSource, view: NonceView, version: string): McpServer {
  const server = new McpServer(
    { name: `agent-nonce-${view.service}`, version },
    {
      instructions:
        `Tools for the ${view.service} API through Agent Nonce. Credentials are added by the gateway; ` +
        `call ${toolName(view.service, "scopes")} to see what is allowed right now.`,
    },
  );

  server.registerTool(
    toolName(view.service, "request"),
    {
      title: `${view.service} API request`,
      description: describeRequestTool(view),
      inputSchema: requestInput,
      outputSchema: requestOutput,
      annotations: { openWorldHint: true },
    },
    async (args) => {
      const r = await gatewayRequest(source.target(), args);
      if (r.error) return { isError: true, content: text(formatToolResponse(r)) };
      return {
        content: text(formatToolResponse(r)),
        structuredContent: { status: r.status, content_type: r.contentType, body: r.body, truncated: r.truncated },
      };
    },
  );

  server.registerTool(
    toolName(view.service, "scopes"),
    {
      title: `What the ${view.service} nonce allows`,
      description: `What this session may call on ${view.service}: allowed routes, constraints, expiry and uses left.`,
      outputSchema: viewOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async () => {
      try {
        const v = nonceViewJson(await fetchNonceView(source.target()));
        return { content: text(JSON.stringify(v, null, 2)), structuredContent: v };
      } catch (e) {
        const msg = isAgentNonceError(e) ? `${e.code}: ${e.message}` : "internal: the nonce view could not be read";
        return { isError: true, content: text(msg) };
      }
    },
  );
  return server;
}
