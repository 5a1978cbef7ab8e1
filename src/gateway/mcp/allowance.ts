/**
 * What a nonce may do on an MCP server, read from its scopes as issued: `tool:<name>` (or `tool:*`),
 * `mcp:resources`, `mcp:prompts`. Route scopes only let requests reach the server's endpoint; this decides
 * per JSON-RPC message. Computed once per nonce (the scopes of a nonce never change).
 */
export interface McpAllowance {
  readonly tools: ReadonlySet<string>;
  readonly allTools: boolean;
  readonly resources: boolean;
  readonly prompts: boolean;
}

const byScopes = new WeakMap<readonly string[], McpAllowance>();

export function mcpAllowance(scopes: readonly string[]): McpAllowance {
  const hit = byScopes.get(scopes);
  if (hit) return hit;
  const tools = new Set<string>();
  for (const s of scopes) if (s.startsWith("tool:") && s !== "tool:*") tools.add(s.slice(5));
  const a = {
    tools,
    allTools: scopes.includes("tool:*"),
    resources: scopes.includes("mcp:resources"),
    prompts: scopes.includes("mcp:prompts"),
  };
  byScopes.set(scopes, a);
  return a;
}

export function toolAllowed(a: McpAllowance, name: string): boolean {
  return a.allTools || a.tools.has(name);
}

/** What a refused message was, for the 403 message and the audit event's `data`. */
export interface McpDenial {
  mcp_method: string;
  tool?: string;
}

export type MessageVerdict = { ok: true } | { denied: McpDenial } | { malformed: string };

const ALWAYS: ReadonlySet<string> = new Set(["initialize", "ping", "logging/setLevel", "tools/list"]);

/**
 * One JSON-RPC message from the agent. Responses (to the server's own requests: sampling, elicitation, roots)
 * and notifications pass; requests are allowed by name, everything unknown is refused (deny by default).
 */
export function checkMessage(msg: unknown, a: McpAllowance): MessageVerdict {
  if (msg === null || typeof msg !== "object" || Array.isArray(msg)) {
    return { malformed: "a JSON-RPC message must be an object" };
  }
  const m = msg as Record<string, unknown>;
  if (!("method" in m)) {
    if ("id" in m && ("result" in m || "error" in m)) return { ok: true };
    return { malformed: "a JSON-RPC message needs a method, or a result or error" };
  }
  const method = m.method;
  if (typeof method !== "string") return { malformed: "a JSON-RPC method must be a string" };
  if (method.startsWith("notifications/") || ALWAYS.has(method)) return { ok: true };
  const params = m.params !== null && typeof m.params === "object" ? (m.params as Record<string, unknown>) : {};
  if (method === "tools/call") {
    const name = params.name;
    if (typeof name !== "string") return { malformed: "tools/call needs params.name" };
    return toolAllowed(a, name) ? { ok: true } : { denied: { mcp_method: method, tool: name } };
  }
  if (method.startsWith("resources/")) return a.resources ? { ok: true } : { denied: { mcp_method: method } };
  if (method.startsWith("prompts/")) return a.prompts ? { ok: true } : { denied: { mcp_method: method } };
  if (method === "completion/complete") {
    // Completions read a prompt's or a resource template's arguments: the same scope as reading them.
    const ref = params.ref !== null && typeof params.ref === "object" ? (params.ref as { type?: unknown }) : {};
    const ok = (ref.type === "ref/prompt" && a.prompts) || (ref.type === "ref/resource" && a.resources);
    return ok ? { ok: true } : { denied: { mcp_method: method } };
  }
  return { denied: { mcp_method: method } };
}

// Names come from the agent: bounded, and never something that looks like a token in an audit event.
const TOKEN_LIKE = /\b(?:an|ank)_[A-Za-z0-9]{16,}/;

export function auditName(name: string): string {
  if (TOKEN_LIKE.test(name)) return "[redacted]";
  return name.length > 128 ? `${name.slice(0, 128)}…` : name;
}
