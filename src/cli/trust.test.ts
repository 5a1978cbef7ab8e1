import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createApiServer } from "../api/server.js";
import { type ApiHarness, apiHarness } from "../test/api-harness.js";
import { argv, fakeIo } from "./fake-io.js";
import { run } from "./main.js";

/** `agent-nonce trust put|list|rm` against a real control-plane server. */
let h: ApiHarness;
let api: ReturnType<typeof createApiServer>;
let env: Record<string, string>;

beforeEach(async () => {
  h = await apiHarness();
  api = createApiServer(h.ctx);
  await new Promise<void>((resolve) => api.server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
  env = { AGENT_NONCE_URL: url, AGENT_NONCE_API_KEY: h.adminKey };
});
afterEach(async () => {
  await api.close();
  await h.close();
});

describe("agent-nonce trust", () => {
  it("puts (subject, repeated --claim, policy), lists and removes", async () => {
    const policy = JSON.stringify({ allow: [{ service: "stripe", scopes: ["read:customers"] }] });
    const put = fakeIo({ env });
    const args = ["trust", "put", "gha", "--issuer", "https://token.actions.githubusercontent.com"];
    args.push("--audience", "agent-nonce", "--subject", "repo:acme/app:*", "--role", "issuer", "--policy", policy);
    args.push("--claim", "repository=acme/app", "--claim", "ref=refs/heads/main");
    expect(await run(argv(...args), put), put.err()).toBe(0);
    expect(put.out()).toContain("trust gha: https://token.actions.githubusercontent.com");
    const stored = (await h.call("GET", "/v1/trust/gha")).body;
    expect(stored.claims).toEqual({ repository: "acme/app", ref: "refs/heads/main" });
    expect(stored.subject).toBe("repo:acme/app:*");

    const list = fakeIo({ env });
    expect(await run(argv("trust", "list"), list)).toBe(0);
    expect(list.out()).toMatch(/gha .*agent-nonce .*repo:acme\/app:\*/);

    const rm = fakeIo({ env });
    expect(await run(argv("trust", "rm", "gha"), rm)).toBe(0);
    expect((await h.call("GET", "/v1/trust")).body.trust).toEqual([]);
    const again = fakeIo({ env });
    expect(await run(argv("trust", "rm", "gha"), again)).not.toBe(0);
    expect(again.err()).toContain("trust_not_found");
  });

  it("refuses a malformed --claim before calling the API", async () => {
    const io = fakeIo({ env });
    const args = ["trust", "put", "x", "--issuer", "https://i.example.com", "--audience", "a", "--role", "auditor"];
    expect(await run(argv(...args, "--claim", "novalue"), io)).toBe(2);
    expect(io.err()).toContain("--claim must be name=glob");
    expect((await h.call("GET", "/v1/trust")).body.trust).toEqual([]);
  });
});
