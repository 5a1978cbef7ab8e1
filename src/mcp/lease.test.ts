import { AgentNonce, gatewayRequest } from "@agent-nonce/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentFixture, startAgentFixture } from "../test/agent-fixture.js";
import { type LeaseTimers, NonceLease, renewDelay } from "./lease.js";

/** Issuer mode's lease against a real server: renewal driven by injected timers, not by waiting. */

let fx: AgentFixture;
beforeAll(async () => {
  fx = await startAgentFixture();
});
afterAll(async () => {
  await fx?.close();
});

/** Timers that record what was scheduled and run it only when the test says so. */
function manualTimers(now: () => number) {
  const pending = new Map<number, { fn: () => void; ms: number }>();
  let seq = 0;
  const timers: LeaseTimers = {
    now,
    setTimeout: (fn, ms) => {
      pending.set(++seq, { fn, ms });
      return seq;
    },
    clearTimeout: (h) => {
      pending.delete(h as number);
    },
  };
  return {
    timers,
    pending,
    fire(): void {
      const first = [...pending.entries()][0];
      if (!first) throw new Error("nothing scheduled");
      pending.delete(first[0]);
      first[1].fn();
    },
  };
}

describe("renewDelay", () => {
  it("renews with a fifth of the lifetime left, at most a minute before expiry", () => {
    expect(renewDelay(0, 300_000)).toBe(240_000);
    expect(renewDelay(0, 3_600_000)).toBe(3_540_000);
    expect(renewDelay(0, 10_000)).toBe(8_000);
    expect(renewDelay(5_000, 1_000)).toBe(0);
  });
});

describe("NonceLease", () => {
  it("issues, renews before expiry (new nonce works, old one revoked), and revokes on close", async () => {
    const key = await fx.issuerKey();
    const an = new AgentNonce({ baseUrl: fx.apiUrl, apiKey: key });
    const t = manualTimers(() => fx.clock.now());
    const notices: string[] = [];
    const task = `lease-${fx.clock.now()}`;
    const lease = await NonceLease.start(
      an,
      { service: "stripe", scope: "read:customers", ttl: "5m", agent: "lease-test", task },
      { timers: t.timers, events: { notice: (l) => notices.push(l) } },
    );
    const firstId = lease.id;
    const firstTarget = lease.target();
    fx.tokens.push(firstTarget.nonce);
    expect([...t.pending.values()].map((p) => p.ms)).toEqual([240_000]);
    expect((await gatewayRequest(firstTarget, { method: "GET", path: "/v1/customers" })).status).toBe(200);

    t.fire();
    await lease.renew(); // joins the renewal the timer started
    const secondId = lease.id;
    fx.tokens.push(lease.target().nonce);
    expect(secondId).not.toBe(firstId);
    expect((await fx.an.nonces.get(firstId)).status).toBe("revoked");
    expect((await fx.an.nonces.get(secondId)).status).toBe("active");
    expect((await gatewayRequest(lease.target(), { method: "GET", path: "/v1/customers" })).status).toBe(200);
    const old = await gatewayRequest(firstTarget, { method: "GET", path: "/v1/customers" });
    expect(old.error?.code).toBe("nonce_revoked");
    expect(t.pending.size).toBe(1);
    expect(notices.join("\n")).toContain(`renewed: ${firstId} → ${secondId}`);

    await lease.close();
    expect(t.pending.size).toBe(0);
    expect((await fx.an.nonces.get(secondId)).status).toBe("revoked");
    const { nonces } = await fx.an.nonces.list({ task });
    expect(nonces.map((n) => n.status).sort()).toEqual(["revoked", "revoked"]);
    for (const line of notices) for (const tok of fx.tokens) expect(line).not.toContain(tok);
  });

  it("a failed renewal keeps the current nonce and retries before it expires", async () => {
    const key = await fx.issuerKey();
    const an = new AgentNonce({ baseUrl: fx.apiUrl, apiKey: key });
    const t = manualTimers(() => fx.clock.now());
    const notices: string[] = [];
    const lease = await NonceLease.start(
      an,
      { service: "stripe", scope: "read:customers", ttl: "5m", agent: "lease-test" },
      { timers: t.timers, events: { notice: (l) => notices.push(l) } },
    );
    fx.tokens.push(lease.target().nonce);
    const id = lease.id;
    // The key is revoked: the next issuance is refused.
    const keyId = (await fx.an.keys.list()).find((k) => k.name === "issuer-1")!.id;
    await fx.an.keys.revoke(keyId);
    t.fire();
    await lease.renew();
    expect(lease.id).toBe(id);
    expect(notices.join("\n")).toMatch(/renewal of nce_\S+ failed \(unauthenticated\); retrying/);
    expect([...t.pending.values()].map((p) => p.ms)).toEqual([5_000]);
    await lease.close().catch(() => undefined);
  });
});
