import { AgentNonce } from "@agent-nonce/sdk";
import { Octokit } from "@octokit/rest";
import { LogLevel, WebClient } from "@slack/web-api";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FakeUpstream, RecordedRequest } from "../test/fake-upstream.js";
import { githubLike, type OpenAiLike, openaiLike, slackLike } from "./client-upstreams.js";
import { type E2eServer, fakeSecret, startE2e } from "./harness.js";

/**
 * Drop-in clients end to end: each official client is configured with nothing but its base URL (the gateway) and
 * the nonce as its key, against a loopback upstream that answers like the vendor. The service is registered from
 * the template, so these tests also prove the template's scope names work with the calls the clients make.
 * (The `stripe` client is covered in seed-flow.test.ts.)
 */

const REDACTED = "[REDACTED by agent-nonce]";

let server: E2eServer;
let an: AgentNonce;
let gateway: string;
const secrets: Record<string, string> = {};
const upstreams: Record<string, FakeUpstream> = {};
let openaiUp: OpenAiLike;

beforeAll(async () => {
  server = await startE2e("sqlite");
  gateway = server.gatewayUrl as string;
  an = new AgentNonce({ baseUrl: server.apiUrl as string, apiKey: server.adminApiKey });
  openaiUp = await openaiLike();
  upstreams.github = await githubLike();
  upstreams.slack = await slackLike();
  upstreams.openai = openaiUp;
  const prefixes: Record<string, string> = { github: "ghp_FAKE_", slack: "xoxb-FAKE-", openai: "sk-FAKE-" };
  for (const name of ["github", "slack", "openai"]) {
    secrets[name] = fakeSecret(prefixes[name]);
    const up = upstreams[name] as FakeUpstream;
    await an.services.put(name, { template: name, upstream: up.url, insecureUpstream: true });
    await an.services.setCredential(name, secrets[name] as string);
  }
});

afterAll(async () => {
  await server?.stop();
  for (const up of Object.values(upstreams)) await up.close();
});

const issue = (service: string, scope: string | string[]) =>
  an.nonces.create({ service, scope, agent: "clients-e2e", task: `t-${service}` });

/** The upstream got the real credential as the template injects it, and never the nonce. */
function expectInjected(seen: RecordedRequest[], service: string, nonce: string): void {
  expect(seen.length).toBeGreaterThan(0);
  for (const r of seen) {
    expect(r.headers.authorization).toBe(`Bearer ${secrets[service]}`);
    expect(JSON.stringify(r.rawHeaders)).not.toContain(nonce);
    expect(r.url).not.toContain(nonce);
    expect(r.body.toString("latin1")).not.toContain(nonce);
  }
}

describe("@octokit/rest through the gateway", () => {
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  const octokit = (nonce: string) => new Octokit({ auth: nonce, baseUrl: gateway, log: quiet });

  it("an issues:read call succeeds with the real token injected; the echoed token comes back redacted", async () => {
    const n = await issue("github", "issues:read");
    const up = upstreams.github as FakeUpstream;
    const before = up.requests.length;
    const list = await octokit(n.nonce).issues.listForRepo({ owner: "octo", repo: "hello" });
    expect(list.status).toBe(200);
    expect(list.data[0]?.title).toBe("first");
    const one = await octokit(n.nonce).issues.get({ owner: "octo", repo: "hello", issue_number: 2 });
    expect(one.data.title).toBe(`seen: Bearer ${REDACTED}`);
    expect(JSON.stringify([list, one])).not.toContain(secrets.github);
    const seen = up.requests.slice(before);
    expect(seen.map((r) => `${r.method} ${r.url}`)).toEqual([
      "GET /repos/octo/hello/issues",
      "GET /repos/octo/hello/issues/2",
    ]);
    expectInjected(seen, "github", n.nonce);
  });

  it("an out-of-scope call rejects with a RequestError 403 and X-Agent-Nonce-Error: scope_denied", async () => {
    const n = await issue("github", "issues:read");
    const before = (upstreams.github as FakeUpstream).requests.length;
    const err = (await octokit(n.nonce)
      .issues.create({ owner: "octo", repo: "hello", title: "nope" })
      .catch((e: unknown) => e)) as { status: number; response?: { headers: Record<string, string> } };
    expect(err.status).toBe(403);
    expect(err.response?.headers["x-agent-nonce-error"]).toBe("scope_denied");
    expect((upstreams.github as FakeUpstream).requests.length).toBe(before);
  });

  it("{+path} (reserved expansion) sends the slashes raw and works too", async () => {
    const n = await issue("github", "contents:read");
    // Octokit's own methods send /contents/docs%2Fguide.md, decoded by the gateway (see octokit-paths.test.ts).
    const ok = await octokit(n.nonce).request("GET /repos/{owner}/{repo}/contents/{+path}", {
      owner: "octo",
      repo: "hello",
      path: "docs/guide.md",
    });
    expect(ok.status).toBe(200);
    expect((ok.data as { path: string }).path).toBe("docs/guide.md");
    // A top-level file needs no workaround.
    const top = await octokit(n.nonce).repos.getContent({ owner: "octo", repo: "hello", path: "README.md" });
    expect(top.status).toBe(200);
  });
});

describe("@slack/web-api through the gateway", () => {
  const slack = (nonce: string) =>
    new WebClient(nonce, { slackApiUrl: `${gateway}/api/`, retryConfig: { retries: 0 }, logLevel: LogLevel.ERROR });

  it("chat.postMessage with chat:write succeeds; the echoed token comes back redacted", async () => {
    const n = await issue("slack", "chat:write");
    const up = upstreams.slack as FakeUpstream;
    const before = up.requests.length;
    const res = await slack(n.nonce).chat.postMessage({ channel: "C123", text: "deploy finished" });
    expect(res.ok).toBe(true);
    expect(res.message?.text).toBe("deploy finished");
    expect((res as { seen_authorization?: string }).seen_authorization).toBe(`Bearer ${REDACTED}`);
    expect(JSON.stringify(res)).not.toContain(secrets.slack);
    const seen = up.requests.slice(before);
    expect(seen.map((r) => `${r.method} ${r.url}`)).toEqual(["POST /api/chat.postMessage"]);
    expect(new URLSearchParams(seen[0]?.body.toString("utf8")).get("channel")).toBe("C123");
    expectInjected(seen, "slack", n.nonce);
  });

  it("a method outside the scope fails with slack_webapi_http_error 403 and scope_denied", async () => {
    const n = await issue("slack", "chat:write");
    const before = (upstreams.slack as FakeUpstream).requests.length;
    const err = (await slack(n.nonce)
      .conversations.list()
      .catch((e: unknown) => e)) as { code: string; statusCode: number; headers: Record<string, string> };
    expect(err.code).toBe("slack_webapi_http_error");
    expect(err.statusCode).toBe(403);
    expect(err.headers["x-agent-nonce-error"]).toBe("scope_denied");
    expect((upstreams.slack as FakeUpstream).requests.length).toBe(before);
  });
});

describe("openai through the gateway", () => {
  const openai = (nonce: string) => new OpenAI({ apiKey: nonce, baseURL: `${gateway}/v1`, maxRetries: 0 });

  it("chat.completions.create with chat_completions:request succeeds; the echoed key comes back redacted", async () => {
    const n = await issue("openai", "chat_completions:request");
    const before = openaiUp.requests.length;
    const c = await openai(n.nonce).chat.completions.create({
      model: "gpt-test",
      messages: [{ role: "user", content: "hi" }],
    });
    expect(c.choices[0]?.message.content).toBe(`seen: Bearer ${REDACTED}`);
    expect(JSON.stringify(c)).not.toContain(secrets.openai);
    const seen = openaiUp.requests.slice(before);
    expect(seen.map((r) => `${r.method} ${r.url}`)).toEqual(["POST /v1/chat/completions"]);
    expect(JSON.parse(seen[0]?.body.toString("utf8") ?? "{}")).toMatchObject({ model: "gpt-test" });
    expectInjected(seen, "openai", n.nonce);
  });

  it("an out-of-scope call is an APIError 403 with X-Agent-Nonce-Error: scope_denied", async () => {
    const n = await issue("openai", "chat_completions:request");
    const before = openaiUp.requests.length;
    for (const call of [() => openai(n.nonce).files.list(), () => openai(n.nonce).models.list()]) {
      const err = await call().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(403);
      expect((err as InstanceType<typeof OpenAI.APIError>).headers?.get("x-agent-nonce-error")).toBe("scope_denied");
    }
    expect(openaiUp.requests.length).toBe(before);
  });

  it("a streamed completion reaches the client chunk by chunk, before the upstream has finished", async () => {
    const n = await issue("openai", "chat_completions:request");
    const stream = await openai(n.nonce).chat.completions.create({
      model: "gpt-test",
      messages: [{ role: "user", content: "hi" }],
      stream: true,
    });
    const it = stream[Symbol.asyncIterator]();
    // The upstream holds the rest of the stream until released, so a gateway that buffered would never
    // deliver this chunk: the timer only turns that deadlock into a readable failure.
    let timer: NodeJS.Timeout | undefined;
    const first = await Promise.race([
      it.next(),
      new Promise<"buffered">((r) => {
        timer = setTimeout(() => r("buffered"), 10_000);
      }),
    ]);
    clearTimeout(timer);
    expect(first).not.toBe("buffered");
    expect(openaiUp.streamFinished()).toBe(false);
    expect((first as IteratorResult<OpenAI.ChatCompletionChunk>).value?.choices[0]?.delta.content).toBe("Hel");
    openaiUp.releaseStream();
    let text = "Hel";
    for (let r = await it.next(); !r.done; r = await it.next()) text += r.value.choices[0]?.delta.content ?? "";
    expect(text).toBe("Hello");
    expect(openaiUp.streamFinished()).toBe(true);
  });
});
