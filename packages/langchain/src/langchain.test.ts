import { AgentNonce, AgentNonceError } from "@agent-nonce/sdk";
import { AIMessageChunk, HumanMessage, ToolMessage } from "@langchain/core/messages";
import { FakeStreamingChatModel } from "@langchain/core/utils/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentFixture, assertNoSecrets, startAgentFixture } from "../../../src/test/agent-fixture.js";
import { createAgentNonceTool } from "./index.js";

/**
 * The LangChain.js adapter driven by LangChain's own fake tool-calling chat model: the model's tool calls run
 * through a real gateway (real server, fake upstream on 127.0.0.1) with a nonce issued for the task by an
 * issuer key, revoked when the task ends.
 */

let fx: AgentFixture;
let client: AgentNonce;
beforeAll(async () => {
  fx = await startAgentFixture();
  client = new AgentNonce({ baseUrl: fx.apiUrl, apiKey: await fx.issuerKey() });
});
afterAll(async () => {
  assertNoSecrets(fx.server.logs(), fx.needles());
  await fx?.close();
});

function modelCalling(calls: Array<{ id: string; args: Record<string, unknown> }>) {
  return new FakeStreamingChatModel({
    chunks: [
      new AIMessageChunk({
        content: "",
        tool_calls: calls.map((c) => ({ id: c.id, name: "stripe_request", args: c.args, type: "tool_call" as const })),
      }),
    ],
  });
}

describe("@agent-nonce/langchain", () => {
  it("a fake model's tool calls go through the gateway; a refusal is an error ToolMessage; the nonce dies with the task", async () => {
    const task = `lc-${Date.now()}`;
    let nonceId = "";
    const seen: string[] = [];
    {
      await using t = await createAgentNonceTool({
        client,
        service: "stripe",
        scope: "read:customers",
        agent: "langchain-agent",
        task,
      });
      nonceId = t.nonceId;
      expect(t.tool.name).toBe("stripe_request");
      expect(t.tool.description).toContain("GET /v1/customers/{id}");
      seen.push(t.tool.description, JSON.stringify(t.view));
      expect((await fx.an.nonces.get(nonceId)).status).toBe("active");

      const before = fx.upstream.requests.length;
      const model = modelCalling([
        { id: "call_1", args: { method: "GET", path: "/v1/customers", query: { limit: 1 } } },
        { id: "call_2", args: { method: "POST", path: "/v1/charges", body: { amount: 100 } } },
        { id: "call_3", args: { method: "GET", path: "/v1/customers/cus_echo" } },
      ]).bindTools([t.tool]);
      const ai = await model.invoke([new HumanMessage("list one customer, then charge them")]);
      expect(ai.tool_calls).toHaveLength(3);
      const results = (await Promise.all((ai.tool_calls ?? []).map((tc) => t.tool.invoke(tc)))) as ToolMessage[];
      seen.push(JSON.stringify(results));
      for (const r of results) expect(r).toBeInstanceOf(ToolMessage);

      expect(results[0]!.status).toBe("success");
      expect(results[0]!.tool_call_id).toBe("call_1");
      expect(String(results[0]!.content)).toMatch(/^HTTP 200\ncontent-type: application\/json/);
      expect(String(results[0]!.content)).toContain("cus_1");

      expect(results[1]!.status).toBe("error");
      expect(String(results[1]!.content)).toMatch(/^scope_denied: /);
      expect(results[1]!.artifact.error.code).toBe("scope_denied");

      expect(String(results[2]!.content)).toContain("REDACTED");
      // Two forwarded (the refusal never reached the upstream), each with the real key injected.
      const got = fx.upstream.requests.slice(before);
      expect(got.map((g) => g.url)).toEqual(["/v1/customers?limit=1", "/v1/customers/cus_echo"]);
      for (const g of got) expect(g.headers.authorization).toBe(`Bearer ${fx.secret}`);
    }
    expect((await fx.an.nonces.get(nonceId)).status).toBe("revoked");
    assertNoSecrets(seen.join("\n"), fx.needles());
  });

  it("close() revokes; a call after it is an error with nonce_revoked, not an exception", async () => {
    const t = await createAgentNonceTool({ client, service: "stripe", scope: "read:customers", agent: "lc" });
    await t.close();
    await t.close();
    expect((await fx.an.nonces.get(t.nonceId)).status).toBe("revoked");
    const msg = (await t.tool.invoke({
      id: "call_9",
      name: "stripe_request",
      args: { method: "GET", path: "/v1/customers" },
      type: "tool_call",
    })) as ToolMessage;
    expect(msg.status).toBe("error");
    expect(String(msg.content)).toMatch(/^nonce_revoked: /);
    // Invoked with plain arguments (no tool call), the answer is the same text.
    expect(await t.tool.invoke({ method: "GET", path: "/v1/customers" })).toMatch(/^nonce_revoked: /);
  });

  it("an issuance outside the key's policy throws the API's error and creates no tool", async () => {
    await expect(
      createAgentNonceTool({ client, service: "stripe", scope: "write:customers", agent: "lc" }),
    ).rejects.toBeInstanceOf(AgentNonceError);
  });
});
