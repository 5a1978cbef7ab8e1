/**
 * An orchestrator running one agent task with Agent Nonce (TypeScript SDK):
 *   1. issue a nonce for the task, scoped to what the task needs, with an issuer key;
 *   2. hand only the nonce to the agent (here: the agent's calls are made with `n.fetch`);
 *   3. the gateway refuses what the scope does not allow, before anything reaches the API;
 *   4. the nonce is revoked when the task ends (`await using`), so a leaked copy is already dead.
 *
 * Run against a server (`agent-nonce serve`, or `agent-nonce demo` for the whole story):
 *   AGENT_NONCE_URL=http://127.0.0.1:7070 AGENT_NONCE_API_KEY=<issuer key> node examples/dist/orchestrator.js
 * Prints one JSON line per step; never the nonce or the key.
 */
import { AgentNonce } from "@agent-nonce/sdk";

const baseUrl = process.env.AGENT_NONCE_URL ?? "http://127.0.0.1:7070";
const apiKey = process.env.AGENT_NONCE_API_KEY;
const service = process.env.EXAMPLE_SERVICE ?? "stripe";
if (!apiKey) {
  console.error("set AGENT_NONCE_API_KEY to an issuer key (agent-nonce key create --role issuer …)");
  process.exit(2);
}

const an = new AgentNonce({ baseUrl, apiKey });
const task = `sync-${new Date()
  .toISOString()
  .replace(/[^0-9]/g, "")
  .slice(0, 14)}`;
const step = (name: string, data: Record<string, unknown>) => console.log(JSON.stringify({ step: name, ...data }));

let nonceId = "";
{
  await using n = await an.nonces.create({
    service,
    scope: "read:customers",
    ttl: "5m",
    agent: "billing-bot",
    task,
  });
  nonceId = n.id;
  step("issued", { id: n.id, scopes: n.scopes, expires_at: n.expiresAt.toISOString() });

  // The agent's side: only `n` (in a real system: only n.nonce and n.gatewayUrl) crosses over.
  const list = await n.fetch("/v1/customers?limit=3");
  const body = (await list.json()) as { data?: Array<{ id: string }> };
  step("allowed", { status: list.status, customers: (body.data ?? []).map((c) => c.id) });

  const charge = await n.fetch("/v1/charges", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "amount=100&currency=usd",
  });
  step("refused", { status: charge.status, code: charge.headers.get("x-agent-nonce-error") });
} // revoked here, even if a step above threw

const after = await an.nonces.get(nonceId);
step("ended", { id: nonceId, status: after.status, uses: after.uses });
