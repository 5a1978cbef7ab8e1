import { AgentNonce } from "@agent-nonce/sdk";
import { generateText, stepCountIs } from "ai";
import { MockLanguageModelV3 } from "ai/test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentFixture, assertNoSecrets, startAgentFixture } from "../../../src/test/agent-fixture.js";
import { createAgentNonceTool } from "./index.js";

/**
 * The AI SDK adapter driven by the AI SDK's own MockLanguageModelV3 through `generateText`: the model's tool
 * calls run through a real gateway (real server, fake upstream on 127.0.0.1) with a nonce issued for the task
 * by an issuer key, revoked when the task ends.
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

const usage = {
  inputTokens: { total: 10, noCache: 10, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: 5, text: 5, reasoning: undefined },
};

function toolCall(id: string, input: Record<string, unknown>) {
  return { type: "tool-call" as const, toolCallId: id, toolName: "stripe_request", input: JSON.stringify(input) };
}

/** Step 1: the model calls the tool (allowed, refused, echo); step 2: it answers in text. */
function scriptedModel() {
  return new MockLanguageModelV3({
    doGenerate: [
      {
        content: [
          toolCall("c1", { method: "GET", path: "/v1/customers", query: { limit: 1 } }),
          toolCall("c2", { method: "POST", path: "/v1/charges", body: { amount: 100 } }),
          toolCall("c3", { method: "GET", path: "/v1/customers/cus_echo" }),
        ],
        finishReason: { unified: "tool-calls", raw: "tool_calls" },
        usage,
        warnings: [],
      },
      {
        content: [{ type: "text", text: "Found cus_1; charging is not allowed." }],
        finishReason: { unified: "stop", raw: "stop" },
        usage,
        warnings: [],
      },
    ],
  });
}

describe("@agent-nonce/ai-sdk", () => {
  it("generateText with a mock model: tool calls through the gateway, a refusal is a tool-error, the nonce dies with the task", async () => {
    const task = `ai-${Date.now()}`;
    let nonceId = "";
    const model = scriptedModel();
    const before = fx.upstream.requests.length;
    let result: Awaited<ReturnType<typeof run>> | undefined;
    const run = (tools: Awaited<ReturnType<typeof createAgentNonceTool>>["tools"]) =>
      generateText({ model, tools, stopWhen: stepCountIs(3), prompt: "list a customer" });
    {
      await using t = await createAgentNonceTool({
        client,
        service: "stripe",
        scope: "read:customers",
        agent: "ai-sdk-agent",
        task,
      });
      nonceId = t.nonceId;
      expect(t.name).toBe("stripe_request");
      expect(t.tool.description).toContain("GET /v1/customers/{id}");
      result = await run(t.tools);
      expect((await fx.an.nonces.get(nonceId)).status).toBe("active");
    }
    expect((await fx.an.nonces.get(nonceId)).status).toBe("revoked");

    if (!result) throw new Error("generateText did not run");
    expect(result.text).toBe("Found cus_1; charging is not allowed.");
    const step1 = result.steps[0]!;
    const ok = step1.toolResults.find((r) => r.toolCallId === "c1")!;
    expect(ok.output).toMatchObject({ status: 200, content_type: "application/json" });
    expect(JSON.parse((ok.output as { body: string }).body).data[0].id).toBe("cus_1");
    const echo = step1.toolResults.find((r) => r.toolCallId === "c3")!;
    expect((echo.output as { body: string }).body).toContain("REDACTED");

    const errors = step1.content.filter((p) => p.type === "tool-error");
    expect(errors).toHaveLength(1);
    const err = errors[0] as { toolCallId: string; error: { code?: string; message?: string } };
    expect(err.toolCallId).toBe("c2");
    expect(err.error.code).toBe("scope_denied");
    expect(err.error.message).toMatch(/^scope_denied: /);

    // What the model saw on its second call: the results and the refusal's text.
    const prompt = JSON.stringify(model.doGenerateCalls[1]!.prompt);
    expect(prompt).toContain("scope_denied");
    expect(prompt).toContain("cus_1");
    // And on its first call, the tool's description listing the allowed routes.
    const tools = JSON.stringify(model.doGenerateCalls[0]!.tools);
    expect(tools).toContain("GET /v1/customers/{id}");
    assertNoSecrets(`${prompt}\n${tools}\n${JSON.stringify(result.steps)}`, fx.needles());

    const got = fx.upstream.requests.slice(before);
    expect(got.map((g) => g.url)).toEqual(["/v1/customers?limit=1", "/v1/customers/cus_echo"]);
    for (const g of got) expect(g.headers.authorization).toBe(`Bearer ${fx.secret}`);
  });

  it("close() revokes; a later call is a tool error with nonce_revoked", async () => {
    const t = await createAgentNonceTool({ client, service: "stripe", scope: "read:customers", agent: "ai" });
    await t.close();
    expect((await fx.an.nonces.get(t.nonceId)).status).toBe("revoked");
    const model = new MockLanguageModelV3({
      doGenerate: [
        {
          content: [toolCall("c1", { method: "GET", path: "/v1/customers" })],
          finishReason: { unified: "tool-calls", raw: "tool_calls" },
          usage,
          warnings: [],
        },
      ],
    });
    const r = await generateText({ model, tools: t.tools, prompt: "x" });
    const err = r.steps[0]!.content.find((p) => p.type === "tool-error") as { error: { code: string } } | undefined;
    expect(err?.error.code).toBe("nonce_revoked");
  });
});
