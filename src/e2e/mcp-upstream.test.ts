import { AgentNonce } from "@agent-nonce/sdk";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type McpUpstream, startMcpUpstream } from "../test/mcp-upstream.js";
import { type E2eServer, fakeSecret, startE2e } from "./harness.js";

/**
 * A remote MCP server as an upstream (template `mcp`), end to end: the official MCP client, pointed at the
 * gateway with only the nonce as its bearer, talks to a real McpServer (Streamable HTTP, both the JSON and the
 * SSE response mode) that only accepts the injected credential. The nonce's `tool:<name>` scopes decide which
 * tools the agent sees and may call.
 */

const tick = () => new Promise((r) => setTimeout(r, 10));

describe.each([{ mode: "json" }, { mode: "sse" }])("MCP upstream ($mode responses)", ({ mode }) => {
  let server: E2eServer;
  let upstream: McpUpstream;
  let an: AgentNonce;
  const secret = fakeSecret();
  const tokens: string[] = [];

  beforeAll(async () => {
    upstream = await startMcpUpstream({ secret, json: mode === "json" });
    server = await startE2e("sqlite");
    an = new AgentNonce({ baseUrl: server.apiUrl as string, apiKey: server.adminApiKey });
    await an.services.put("tools", { template: "mcp", upstream: upstream.url, insecureUpstream: true });
    await an.services.setCredential("tools", secret);
  });

  afterAll(async () => {
    await server?.stop();
    await upstream?.close();
    // No upstream request ever carried a nonce (no token passthrough), in any header or body.
    const seen = JSON.stringify(upstream.requests);
    for (const t of tokens) expect(seen).not.toContain(t);
  });

  async function issue(scope: string[]) {
    const n = await an.nonces.create({ service: "tools", scope, agent: "mcp-agent", task: `t-${mode}` });
    tokens.push(n.nonce);
    return n;
  }

  async function connect(nonce: string) {
    const transport = new StreamableHTTPClientTransport(new URL(`${server.gatewayUrl}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${nonce}` } },
    });
    const client = new Client({ name: "agent", version: "1.0.0" });
    await client.connect(transport);
    return { client, transport };
  }

  async function sawGet(sid: string) {
    const got = () => upstream.requests.find((q) => q.method === "GET" && q.headers["mcp-session-id"] === sid);
    for (let i = 0; i < 500 && !got(); i++) await tick();
    return got();
  }

  it("the official client works unchanged: only the allowed tools are listed and callable", async () => {
    const n = await issue(["tool:search", "tool:fetch"]);
    const before = upstream.requests.length;
    const { client, transport } = await connect(n.nonce);
    expect(transport.sessionId).toMatch(/^[0-9a-f-]{36}$/);

    const listed = await client.listTools();
    expect(listed.tools.map((t) => t.name).sort()).toEqual(["fetch", "search"]);
    const r = await client.callTool({ name: "search", arguments: { q: "cats" } });
    expect(r.content).toEqual([{ type: "text", text: "search:cats" }]);

    const denied = client.callTool({ name: "delete_all", arguments: { q: "x" } });
    await expect(denied).rejects.toMatchObject({ code: 403, message: expect.stringContaining("scope_denied") });

    // The client opens its GET stream on its own after initialize: once it is in, the count is settled.
    await sawGet(transport.sessionId as string);
    const mine = upstream.requests.slice(before);
    // Every request reached the server with the service's credential, never the nonce.
    for (const q of mine) expect(q.headers.authorization).toBe(`Bearer ${secret}`);
    // The session id round trip: every request after initialize carries the id the server issued.
    expect(mine.slice(1).every((q) => q.headers["mcp-session-id"] === transport.sessionId)).toBe(true);
    expect(mine.some((q) => q.body.includes("delete_all"))).toBe(false);

    const audit = await an.audit.list({ nonce: n.id, type: "nonce.rejected" });
    expect(audit.events).toHaveLength(1);
    expect(audit.events[0]).toMatchObject({
      reason: "scope_denied",
      data: { mcp_method: "tools/call", tool: "delete_all" },
    });
    // A refused call counted no use.
    const info = await an.nonces.get(n.id);
    expect(info.uses).toBe(mine.length);

    await transport.terminateSession();
    expect(upstream.requests.at(-1)).toMatchObject({ method: "DELETE" });
    await client.close();
  });

  it("resources and prompts only with mcp:resources / mcp:prompts", async () => {
    const tools = await connect((await issue(["tool:search"])).nonce);
    await expect(tools.client.listResources()).rejects.toMatchObject({ code: 403 });
    await expect(tools.client.getPrompt({ name: "summarize" })).rejects.toMatchObject({ code: 403 });
    await tools.client.close();

    const both = await connect((await issue(["mcp:resources", "mcp:prompts"])).nonce);
    expect((await both.client.listResources()).resources.map((r) => r.uri)).toEqual(["doc://readme"]);
    const read = await both.client.readResource({ uri: "doc://readme" });
    expect(read.contents[0]).toMatchObject({ text: "the readme" });
    expect((await both.client.listPrompts()).prompts.map((p) => p.name)).toEqual(["summarize"]);
    // No tool scope: the tool list comes back empty, and calls are refused.
    expect((await both.client.listTools()).tools).toEqual([]);
    await expect(both.client.callTool({ name: "search", arguments: { q: "a" } })).rejects.toMatchObject({ code: 403 });
    await both.client.close();
  });

  it("a batch with one member out of scope is refused whole: nothing reaches the server", async () => {
    const n = await issue(["tool:search"]);
    const { client, transport } = await connect(n.nonce);
    const call = (id: number, name: string) => ({
      jsonrpc: "2.0",
      id,
      method: "tools/call",
      params: { name, arguments: { q: "b" } },
    });
    // POSTs only: the client's own GET stream may reach the server at any moment.
    const posts = () => upstream.requests.filter((q) => q.method === "POST");
    const before = posts().length;
    const post = (body: unknown) =>
      fetch(`${server.gatewayUrl}/mcp`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${n.nonce}`,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "mcp-session-id": transport.sessionId as string,
          "mcp-protocol-version": transport.protocolVersion ?? "2025-06-18",
        },
        body: JSON.stringify(body),
      });
    const r = await post([call(101, "search"), call(102, "delete_all")]);
    expect(r.status).toBe(403);
    expect(r.headers.get("x-agent-nonce-error")).toBe("scope_denied");
    const msg = ((await r.json()) as { error: { message: string } }).error.message;
    expect(msg).toContain('"tools/call" for tool "delete_all" (batch member 1)');
    expect(msg).toContain("the whole batch of 2 was refused");
    expect(posts().length).toBe(before);
    const audit = await an.audit.list({ nonce: n.id, type: "nonce.rejected" });
    expect(audit.events[0]).toMatchObject({ data: { mcp_method: "tools/call", tool: "delete_all", batch_size: 2 } });

    // A batch whose members are all in scope is forwarded as sent (whatever the server then makes of it).
    const ok = await post([
      call(103, "search"),
      { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 1 } },
    ]);
    await ok.body?.cancel();
    expect(posts().length).toBe(before + 1);
    expect(JSON.parse(posts().at(-1)?.body ?? "")).toHaveLength(2);

    // Unknown methods are refused by default; garbage is a 400 that never reaches the server.
    const unknown = await post({ jsonrpc: "2.0", id: 104, method: "tasks/list" });
    expect(unknown.status).toBe(403);
    await unknown.body?.cancel();
    const dup = await fetch(`${server.gatewayUrl}/mcp`, {
      method: "POST",
      headers: { authorization: `Bearer ${n.nonce}`, "content-type": "application/json" },
      body: '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"search","name":"delete_all"}}',
    });
    expect(dup.status).toBe(400);
    await dup.body?.cancel();
    expect(posts().length).toBe(before + 1);
    await client.close();
  });

  it.runIf(mode === "sse")("the client's GET SSE stream carries server notifications through the gateway", async () => {
    const n = await issue(["tool:search"]);
    const { client, transport } = await connect(n.nonce);
    let changed = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
      changed++;
    });
    const sid = transport.sessionId as string;
    const get = await sawGet(sid);
    expect(get?.headers.authorization).toBe(`Bearer ${secret}`);
    expect(get?.headers.accept).toContain("text/event-stream");
    // A notification sent before the server registered the stream is dropped: resend until one arrives.
    for (let i = 0; i < 500 && changed === 0; i++) {
      upstream.sessions.get(sid)?.sendToolListChanged();
      await tick();
    }
    expect(changed).toBeGreaterThan(0);
    // The re-listed tools are still filtered.
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(["search"]);
    await client.close();
  });
});
