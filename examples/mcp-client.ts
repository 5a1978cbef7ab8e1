/**
 * Drives `agent-nonce mcp` exactly as an MCP host does, with the official MCP client: reads a host config
 * (mcp/mcp.json, Claude Code's `.mcp.json` format), expands `${VAR}` from the environment as Claude Code does,
 * spawns the server over stdio, lists its tools, and calls them: the scopes tool, an allowed request and a
 * refused one (a tool error carrying `scope_denied`, not a crash).
 *
 *   AGENT_NONCE_NONCE=an_… AGENT_NONCE_GATEWAY_URL=http://127.0.0.1:7071 \
 *     node examples/dist/mcp-client.js examples/mcp/mcp.json stripe
 *
 * `"command": "agent-nonce"` runs this repository's CLI (bin/agent-nonce.js) when the example runs from the
 * repository, so nothing needs to be installed globally. Prints one JSON line per step; never the nonce.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

interface ServerEntry {
  command: string;
  args?: string[];
  env?: Record<string, string>;
}

const [configPath = "examples/mcp/mcp.json", serverName = "stripe"] = process.argv.slice(2);
const config = JSON.parse(readFileSync(configPath, "utf8")) as { mcpServers: Record<string, ServerEntry> };
const entry = config.mcpServers[serverName];
if (!entry) {
  console.error(`no server ${JSON.stringify(serverName)} in ${configPath}`);
  process.exit(2);
}

const expand = (v: string) =>
  v.replace(/\$\{([A-Z0-9_]+)\}/g, (_, name: string) => {
    const value = process.env[name];
    if (value === undefined) {
      console.error(`${configPath} needs ${name} in the environment`);
      process.exit(2);
    }
    return value;
  });

const repoBin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../bin/agent-nonce.js");
const useRepoBin = entry.command === "agent-nonce" && existsSync(repoBin);
const transport = new StdioClientTransport({
  command: useRepoBin ? process.execPath : entry.command,
  args: [...(useRepoBin ? [repoBin] : []), ...(entry.args ?? []).map(expand)],
  env: {
    PATH: process.env.PATH ?? "",
    ...Object.fromEntries(Object.entries(entry.env ?? {}).map(([k, v]) => [k, expand(v)])),
  },
  stderr: "inherit",
});
const client = new Client({ name: "agent-nonce-example-host", version: "0.1.0" });
const step = (name: string, data: Record<string, unknown>) => console.log(JSON.stringify({ step: name, ...data }));
type Result = { isError?: boolean; content: Array<{ type: string; text?: string }>; structuredContent?: unknown };
const text = (r: Result) => r.content.map((c) => c.text ?? "").join("\n");

await client.connect(transport);
try {
  const { tools } = await client.listTools();
  step("tools", { names: tools.map((t) => t.name) });
  const prefix = tools.find((t) => t.name.endsWith("_request"))?.name.replace(/_request$/, "");
  if (!prefix) throw new Error("the server offered no <service>_request tool");

  const scopes = (await client.callTool({ name: `${prefix}_scopes`, arguments: {} })) as Result;
  step("scopes", { view: scopes.structuredContent });

  const allowed = (await client.callTool({
    name: `${prefix}_request`,
    arguments: { method: "GET", path: "/v1/customers", query: { limit: 3 } },
  })) as Result;
  step("allowed", {
    isError: allowed.isError ?? false,
    status: (allowed.structuredContent as { status?: number })?.status,
  });

  const refused = (await client.callTool({
    name: `${prefix}_request`,
    arguments: { method: "POST", path: "/v1/charges", body: { amount: 100, currency: "usd" } },
  })) as Result;
  step("refused", { isError: refused.isError ?? false, text: text(refused) });
} finally {
  await client.close();
}
