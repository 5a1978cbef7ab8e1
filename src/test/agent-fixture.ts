import { AgentNonce, type CreateNonceParams, type Nonce } from "@agent-nonce/sdk";
import { ManualClock } from "../core/clock.js";
import { type E2eServer, fakeSecret, startE2e } from "../e2e/harness.js";
import { type FakeUpstream, startFakeUpstream } from "./fake-upstream.js";

/**
 * One real server (both listeners, SQLite) with a Stripe-like fake upstream on 127.0.0.1, registered as service
 * `stripe` from the template with a generated fake secret: what the agent-integration tests (MCP server,
 * LangChain.js and AI SDK adapters, examples/) drive real tool calls through. `GET /v1/customers/cus_echo`
 * answers with the Authorization header it received, so a test can prove the gateway scrubbed the secret.
 */

export interface AgentFixture {
  server: E2eServer;
  /** The server's clock: advance it to expire nonces. */
  clock: ManualClock;
  upstream: FakeUpstream;
  apiUrl: string;
  gatewayUrl: string;
  /** Admin client. */
  an: AgentNonce;
  secret: string;
  /** Every nonce issued through `issue`, to assert none leaks. */
  tokens: string[];
  issue(params?: Partial<CreateNonceParams>): Promise<Nonce>;
  /** An issuer key allowed read:customers on stripe (ttl ≤ 1h). */
  issuerKey(): Promise<string>;
  /** The secrets no tool result, description or log line may contain. */
  needles(): string[];
  close(): Promise<void>;
}

export async function startAgentFixture(): Promise<AgentFixture> {
  const upstream = await startFakeUpstream((req, res) => {
    const url = new URL(req.url, "http://upstream");
    let body: unknown = { ok: true, method: req.method, path: url.pathname };
    if (req.method === "GET" && url.pathname === "/v1/customers") {
      body = { object: "list", data: [{ id: "cus_1", email: "a@example.test" }], has_more: false };
    } else if (url.pathname === "/v1/customers/cus_echo") {
      body = { id: "cus_echo", seen_authorization: req.headers.authorization ?? null };
    } else if (url.pathname === "/v1/customers/cus_missing") {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { type: "invalid_request_error", message: "No such customer" } }));
      return;
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  });
  const clock = new ManualClock(Date.now());
  const server = await startE2e("sqlite", { clock });
  const apiUrl = server.apiUrl as string;
  const an = new AgentNonce({ baseUrl: apiUrl, apiKey: server.adminApiKey });
  const secret = fakeSecret();
  await an.services.put("stripe", { template: "stripe", upstream: upstream.url, insecureUpstream: true });
  await an.services.setCredential("stripe", secret);
  const tokens: string[] = [];
  const keys: string[] = [];
  return {
    server,
    clock,
    upstream,
    apiUrl,
    gatewayUrl: server.gatewayUrl as string,
    an,
    secret,
    tokens,
    async issue(params = {}) {
      const n = await an.nonces.create({
        service: "stripe",
        scope: "read:customers",
        ttl: "5m",
        agent: "test-agent",
        task: "task-1",
        ...params,
      });
      tokens.push(n.nonce);
      return n;
    },
    async issuerKey() {
      const k = await an.keys.create({
        name: `issuer-${keys.length}`,
        role: "issuer",
        policy: { allow: [{ service: "stripe", scopes: ["read:customers"], max_ttl: "1h" }] },
      });
      keys.push(k.key);
      return k.key;
    },
    needles: () => [secret, server.adminApiKey, ...tokens, ...keys],
    async close() {
      await server.stop();
      await upstream.close();
    },
  };
}

/** Fails with the needle's kind (never the needle itself) if `text` contains any of the secrets. */
export function assertNoSecrets(text: string, needles: string[]): void {
  needles.forEach((n, i) => {
    if (n.length > 0 && text.includes(n)) throw new Error(`secret #${i} leaked into the checked text`);
  });
  if (/\ban_[0-9A-Za-z]{20,}/.test(text)) throw new Error("a nonce-shaped token leaked into the checked text");
  if (/\bank_[0-9A-Za-z]{20,}/.test(text)) throw new Error("an API-key-shaped token leaked into the checked text");
}
