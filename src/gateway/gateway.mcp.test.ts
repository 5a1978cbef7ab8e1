import { gzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { newId } from "../core/ids.js";
import type { FakeUpstreamHandler } from "../test/fake-upstream.js";
import { type Harness, startHarness } from "../test/gateway-harness.js";
import { TRANSFORM_BODY_CAP } from "./body-transform.js";

/** The MCP response filter's failure modes in the relay: what cannot be inspected is blocked, never relayed. */

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function mcpSetup(handler: FakeUpstreamHandler) {
  h = await startHarness({ handler });
  const now = h.clock.now();
  const svc = await h.ctx.store.getService(h.service);
  // The harness's service, made an MCP service (the template is what switches the JSON-RPC gate on).
  await h.ctx.store.putService(
    { ...(svc as NonNullable<typeof svc>), template: "mcp", updatedAt: now },
    {
      id: newId("evt", now),
      time: now,
      type: "service.updated",
      actor: { type: "system", id: "test", name: "test" },
      agent: null,
      task: null,
      nonceId: null,
      service: h.service,
      scopes: null,
      reason: null,
      request: null,
      sourceIp: null,
      data: null,
    },
  );
  h.ctx.events.emit("service.changed", h.service);
  const { token } = await h.issue(["POST /**", "GET /**"]);
  return token;
}

const toolsList = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" });

describe("MCP answers the gateway cannot inspect", () => {
  it("a compressed answer is blocked (the gateway asked for identity), and the request said so", async () => {
    const token = await mcpSetup((_req, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" });
      res.end(gzipSync(JSON.stringify({ jsonrpc: "2.0", id: 1, result: { tools: [{ name: "drop" }] } })));
    });
    const r = await (h as Harness).request("/mcp", {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "accept-encoding": "gzip" },
      body: toolsList,
    });
    expect(r.status).toBe(502);
    expect(r.headers["x-agent-nonce-error"]).toBe("response_blocked");
    expect(r.text).not.toContain("drop");
    expect((h as Harness).upstream.requests[0]?.headers["accept-encoding"]).toBe("identity");
  });

  it("a JSON answer over the cap is a clean 502, not a truncated or unfiltered body", async () => {
    const token = await mcpSetup((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      const pad = "x".repeat(64 * 1024);
      res.write('{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"drop","p":[');
      for (let i = 0; i * pad.length <= TRANSFORM_BODY_CAP; i++) res.write(`"${pad}",`);
      res.end('""]}]}}');
    });
    const r = await (h as Harness).request("/mcp", {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: toolsList,
    });
    expect(r.status).toBe(502);
    expect(r.text).not.toContain("drop");
  });

  it("a POST that is not JSON never reaches the server", async () => {
    const token = await mcpSetup((_req, res) => {
      res.end("{}");
    });
    const r = await (h as Harness).request("/mcp", {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "text/plain" },
      body: toolsList,
    });
    expect(r.status).toBe(400);
    expect((h as Harness).upstream.requests).toHaveLength(0);
  });
});
