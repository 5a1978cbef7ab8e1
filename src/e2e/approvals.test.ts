import { createHmac, timingSafeEqual } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { AgentNonce, AgentNonceError, type Approval } from "@agent-nonce/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { argv, fakeIo } from "../cli/fake-io.js";
import { run } from "../cli/main.js";
import { ManualClock } from "../core/clock.js";
import { type E2eServer, fakeSecret, startE2e } from "./harness.js";

/**
 * Approvals on the real server: the approval webhook (signature checked by a local receiver), the SDK waiting
 * for a decision (approved, denied, expired, aborted, wait: false) and the CLI deciding. Two keys: a requester
 * (issuer under a rule with approval.required) and an approver.
 */
const HOOK_SECRET = `whsec_FAKE_${fakeSecret("")}`;
const clock = new ManualClock(Date.UTC(2026, 0, 1));

interface Hook {
  body: string;
  timestamp: string;
  signature: string;
}

describe("approvals end to end", () => {
  let server: E2eServer;
  let receiver: http.Server;
  const hooks: Hook[] = [];
  let hookArrived: () => void = () => {};
  let admin: AgentNonce;
  let requester: AgentNonce;
  let approver: AgentNonce;
  let approverKey: string;
  let requesterKey: string;

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        hooks.push({
          body: Buffer.concat(chunks).toString("utf8"),
          timestamp: String(req.headers["x-agent-nonce-timestamp"]),
          signature: String(req.headers["x-agent-nonce-signature"]),
        });
        res.writeHead(204).end();
        hookArrived();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/approvals`;
    server = await startE2e("sqlite", {
      clock,
      config: { audit: { sinks: [{ type: "approval_webhook", url, secret: HOOK_SECRET, flush_ms: 5 }] } },
    });
    const apiUrl = server.apiUrl as string;
    admin = new AgentNonce({ baseUrl: apiUrl, apiKey: server.adminApiKey });
    await admin.services.put("stripe", { template: "stripe", upstream: "http://127.0.0.1:9", insecureUpstream: true });
    await admin.services.setCredential("stripe", fakeSecret());
    const req = await admin.keys.create({
      name: "orchestrator",
      role: "issuer",
      policy: {
        allow: [{ service: "stripe", scopes: ["read:customers"], approval: { required: true, timeout: "10m" } }],
      },
    });
    const app = await admin.keys.create({ name: "on-call", role: "approver" });
    requesterKey = req.key;
    approverKey = app.key;
    requester = new AgentNonce({ baseUrl: apiUrl, apiKey: req.key });
    approver = new AgentNonce({ baseUrl: apiUrl, apiKey: app.key });
  });
  afterAll(async () => {
    await server?.stop();
    receiver?.closeAllConnections();
    await new Promise((r) => receiver?.close(r));
  });

  const params = { service: "stripe", scope: "read:customers", agent: "bot", task: "e2e", ttl: "5m" };

  /** The pending request the requester just made, as the approver sees it (waits until it is listed). */
  async function nextPending(seen: Set<string>): Promise<Approval> {
    for (;;) {
      const { approvals } = await approver.approvals.list({ status: "pending" });
      const fresh = approvals.find((a) => !seen.has(a.id));
      if (fresh) {
        seen.add(fresh.id);
        return fresh;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  const seen = new Set<string>();

  it("announces a pending request on the webhook, signed with HMAC-SHA256 over timestamp.body", async () => {
    const arrived = new Promise<void>((r) => {
      hookArrived = r;
    });
    const pending = (await requester.nonces.create(params, { wait: false })) as Approval;
    seen.add(pending.id);
    expect(pending.status).toBe("pending");
    await arrived;
    const hook = hooks.find((h) => h.body.includes(pending.id)) as Hook;
    const expected = `sha256=${createHmac("sha256", HOOK_SECRET).update(`${hook.timestamp}.${hook.body}`).digest("hex")}`;
    expect(timingSafeEqual(Buffer.from(hook.signature), Buffer.from(expected))).toBe(true);
    // A tampered body would not verify.
    const forged = createHmac("sha256", HOOK_SECRET).update(`${hook.timestamp}.${hook.body} `).digest("hex");
    expect(hook.signature).not.toBe(`sha256=${forged}`);
    expect(Number(hook.timestamp)).toBe(Math.floor(clock.now() / 1000));
    const body = JSON.parse(hook.body);
    expect(body).toMatchObject({ type: "approval.requested", approval: { id: pending.id, service: "stripe" } });
    expect(hook.body).not.toContain(HOOK_SECRET);
    expect(hook.body).not.toMatch(/an_[0-9A-Za-z]{20,}/);
    await approver.approvals.deny(pending.id, "cleanup");
  });

  it("SDK create waits for the approval and returns the nonce; the approver never sees its token", async () => {
    const waiting = requester.nonces.create(params, { pollIntervalMs: 5 });
    const a = await nextPending(seen);
    const decided = await approver.approvals.approve(a.id, "go");
    expect(decided.status).toBe("approved");
    const nonce = await waiting;
    expect(nonce.nonce).toMatch(/^an_/);
    expect(nonce.expiresAt.getTime()).toBe((decided.decidedAt as Date).getTime() + 5 * 60_000);
    expect(JSON.stringify(await approver.request("GET", `/v1/approvals/${a.id}`))).not.toContain(nonce.nonce);
    // Collected once: a second wait on the same request has no nonce left to hand out.
    await expect(requester.nonces.waitForApproval(a)).rejects.toMatchObject({ code: "conflict" });
  });

  it("denied: the wait rejects with approval_denied and nothing is issued", async () => {
    const pending = (await requester.nonces.create(params, { wait: false })) as Approval;
    seen.add(pending.id);
    await approver.approvals.deny(pending.id, "not today");
    const e = await requester.nonces.waitForApproval(pending).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AgentNonceError);
    expect(e).toMatchObject({ code: "approval_denied", details: { comment: "not today" } });
    expect((await admin.nonces.list({ task: "e2e" })).nonces).toHaveLength(1);
  });

  it("expired: an unanswered request ends as approval_expired; a late decision is 409 approval_expired", async () => {
    const pending = (await requester.nonces.create(params, { wait: false })) as Approval;
    seen.add(pending.id);
    clock.advance(10 * 60_000);
    await expect(requester.nonces.waitForApproval(pending)).rejects.toMatchObject({ code: "approval_expired" });
    await expect(approver.approvals.approve(pending.id)).rejects.toMatchObject({
      code: "approval_expired",
      status: 409,
    });
  });

  it("abort: the signal ends the wait", async () => {
    const ac = new AbortController();
    const waiting = requester.nonces.create(params, { signal: ac.signal, pollIntervalMs: 5 });
    await nextPending(seen);
    ac.abort();
    await expect(waiting).rejects.toMatchObject({ name: "AbortError" });
  });

  it("CLI: approval list, approve, deny; self-approval is refused", async () => {
    const cli = async (key: string, ...args: string[]) => {
      const io = fakeIo({ env: { AGENT_NONCE_URL: server.apiUrl as string, AGENT_NONCE_API_KEY: key } });
      const code = await run(argv(...args), io);
      return { code, out: io.out(), err: io.err() };
    };
    const a = (await requester.nonces.create(params, { wait: false })) as Approval;
    const b = (await requester.nonces.create(params, { wait: false })) as Approval;
    const list = await cli(approverKey, "approval", "list", "--status", "pending");
    expect(list.code).toBe(0);
    expect(list.out).toContain(a.id);
    expect(list.out).toContain(b.id);
    const self = await cli(requesterKey, "approval", "approve", a.id);
    expect(self.code).not.toBe(0);
    expect(self.err).toContain("forbidden");
    const ok = await cli(approverKey, "approval", "approve", a.id, "--comment", "fine");
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/status\s+approved/);
    const no = await cli(approverKey, "approval", "deny", b.id, "--json");
    expect(no.code).toBe(0);
    expect(JSON.parse(no.out).approval.status).toBe("denied");
    const again = await cli(approverKey, "approval", "deny", a.id);
    expect(again.code).not.toBe(0);
    expect(again.err).toContain("conflict");
    expect((await requester.nonces.waitForApproval(a)).nonce).toMatch(/^an_/);
  });

  it("records approval.requested|approved|denied|expired, never with a token", async () => {
    const types = new Set<string>();
    for await (const e of admin.audit.iterate({})) {
      if (e.type.startsWith("approval.")) {
        types.add(e.type);
        expect(JSON.stringify(e)).not.toMatch(/an_[0-9A-Za-z]{20,}/);
      }
    }
    expect(types).toEqual(new Set(["approval.requested", "approval.approved", "approval.denied", "approval.expired"]));
  });
});
