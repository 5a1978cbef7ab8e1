import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type ApiHarness, apiHarness, stripeService } from "../test/api-harness.js";
import { createApiServer } from "./server.js";

let h: ApiHarness;
let api: ReturnType<typeof createApiServer>;
let base: string;

beforeEach(async () => {
  h = await apiHarness();
  await stripeService(h);
  api = createApiServer(h.ctx);
  await new Promise<void>((resolve) => api.server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
});
afterEach(async () => {
  await api.close();
  await h.close();
});

describe("createApiServer over a real socket", () => {
  it("issues, reads and revokes a nonce; the audit records the socket's address", async () => {
    const auth = { authorization: `Bearer ${h.adminKey}`, "content-type": "application/json" };
    const res = await fetch(`${base}/v1/nonces`, {
      method: "POST",
      headers: { ...auth, "x-forwarded-for": "203.0.113.9" },
      body: JSON.stringify({ service: "stripe", scope: "read:customers", agent: "socket-bot", task: "s1" }),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("x-request-id")).toMatch(/^req_/);
    const issued = (await res.json()) as { id: string; nonce: string };
    const got = await fetch(`${base}/v1/nonces/${issued.id}`, { headers: auth });
    expect(((await got.json()) as { status: string }).status).toBe("active");
    const del = await fetch(`${base}/v1/nonces/${issued.id}`, { method: "DELETE", headers: auth });
    expect(del.status).toBe(204);
    const events = await h.ctx.store.listAudit({ nonceId: issued.id, type: "nonce.issued" }, { limit: 1 });
    expect(events.items[0]?.sourceIp).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
  });

  it("rejects a body over 64 KiB with 413 before reading it all", async () => {
    const res = await fetch(`${base}/v1/nonces`, {
      method: "POST",
      headers: { authorization: `Bearer ${h.adminKey}`, "content-type": "application/json" },
      body: "x".repeat(65 * 1024),
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("payload_too_large");
  });

  it("enforces the limit while streaming a chunked body that declares no length", async () => {
    const chunk = new TextEncoder().encode("x".repeat(16 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 8) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await fetch(`${base}/v1/nonces`, {
      method: "POST",
      headers: { authorization: `Bearer ${h.adminKey}`, "content-type": "application/json" },
      body,
      duplex: "half",
    } as RequestInit);
    expect(res.status).toBe(413);
  });

  it("parses a body read from the socket: valid JSON issues, malformed JSON is 400", async () => {
    const headers = { authorization: `Bearer ${h.adminKey}`, "content-type": "application/json" };
    const bad = await fetch(`${base}/v1/nonces`, { method: "POST", headers, body: '{"service":' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("invalid_request");
    const noType = await fetch(`${base}/v1/nonces`, {
      method: "POST",
      headers: { authorization: headers.authorization },
      body: JSON.stringify({ service: "stripe", scope: "read:customers", agent: "a" }),
    });
    expect(noType.status).toBe(400);
    const ok = await fetch(`${base}/v1/nonces/revoke`, {
      method: "POST",
      headers,
      body: JSON.stringify({ task: "none" }),
    });
    expect(await ok.json()).toEqual({ revoked: 0 });
  });

  it("serves /healthz unauthenticated and close() stops listening", async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    await api.close();
    expect(api.server.listening).toBe(false);
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });
});
