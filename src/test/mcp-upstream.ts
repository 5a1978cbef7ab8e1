import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { z } from "zod";

/**
 * A real MCP server (the official SDK's McpServer + StreamableHTTPServerTransport, stateful sessions) on
 * 127.0.0.1:0 at `/mcp`, for gateway tests. It answers 401 unless the request carries `Bearer <secret>` (the
 * gateway's injected credential), and records every request it receives, raw headers and body, so tests can
 * assert what reached it (and that the agent's nonce never did). Tools: search, fetch, delete_all; one
 * resource and one prompt.
 */

export interface McpRecorded {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  rawHeaders: string[];
  body: string;
}

export interface McpUpstream {
  url: string;
  requests: McpRecorded[];
  /** The McpServer of each session, by session id (to send notifications on the GET stream). */
  sessions: Map<string, McpServer>;
  close(): Promise<void>;
}

function readAll(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function buildServer(): McpServer {
  const server = new McpServer({ name: "fake-mcp", version: "1.0.0" });
  for (const name of ["search", "fetch", "delete_all"]) {
    server.registerTool(name, { description: `the ${name} tool`, inputSchema: { q: z.string() } }, async ({ q }) => ({
      content: [{ type: "text", text: `${name}:${q}` }],
    }));
  }
  server.registerResource("readme", "doc://readme", { mimeType: "text/plain" }, async (uri) => ({
    contents: [{ uri: uri.href, text: "the readme" }],
  }));
  server.registerPrompt("summarize", { description: "summarise" }, () => ({
    messages: [{ role: "user", content: { type: "text", text: "summarise this" } }],
  }));
  return server;
}

export async function startMcpUpstream(opts: { secret: string; json: boolean }): Promise<McpUpstream> {
  const requests: McpRecorded[] = [];
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const sessions = new Map<string, McpServer>();
  const http: Server = createServer(async (req, res) => {
    const body = req.method === "POST" ? await readAll(req) : "";
    requests.push({
      method: req.method ?? "",
      url: req.url ?? "",
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      body,
    });
    if (req.headers.authorization !== `Bearer ${opts.secret}`) {
      res.writeHead(401, { "content-type": "application/json" }).end('{"error":"unauthorized"}');
      return;
    }
    if (req.url !== "/mcp") {
      res.writeHead(404).end();
      return;
    }
    const sid = req.headers["mcp-session-id"];
    let transport = typeof sid === "string" ? transports.get(sid) : undefined;
    const parsed: unknown = body ? JSON.parse(body) : undefined;
    if (!transport) {
      const isInit = !Array.isArray(parsed) && (parsed as { method?: unknown } | undefined)?.method === "initialize";
      if (!isInit) {
        res.writeHead(400, { "content-type": "application/json" }).end('{"error":"no session"}');
        return;
      }
      const server = buildServer();
      const t: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        enableJsonResponse: opts.json,
        onsessioninitialized: (id) => {
          transports.set(id, t);
          sessions.set(id, server);
        },
      });
      await server.connect(t);
      transport = t;
    }
    await transport.handleRequest(req, res, parsed);
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    sessions,
    async close() {
      for (const s of sessions.values()) await s.close().catch(() => {});
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
