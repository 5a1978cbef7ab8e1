import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { Agent } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { newId } from "../core/ids.js";
import { startFakeUpstream } from "../test/fake-upstream.js";
import { type Harness, startHarness } from "../test/gateway-harness.js";
import { createGatewayServer } from "./server.js";

/** Listener options, TLS, service cache invalidation and metrics. */

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

describe("service cache", () => {
  it("a service change is seen at once on 'service.changed', and within 1s without the event", async () => {
    h = await startHarness();
    const other = await startFakeUpstream();
    try {
      const { token } = await h.issue(["GET /v1/x"]);
      await h.request("/v1/x", { headers: bearer(token) });
      // changed in the store behind the gateway's back (another replica): cached for at most 1s
      const now = h.clock.now();
      const rec = (await h.ctx.store.getService(h.service))!;
      const { credential: _c, credentialFingerprint: _f, credentialUpdatedAt: _u, ...base } = rec;
      await h.ctx.store.putService(
        { ...base, upstream: other.url, updatedAt: now },
        {
          id: newId("evt", now),
          time: now,
          type: "service.updated",
          actor: null,
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
      await h.request("/v1/x", { headers: bearer(token) });
      expect(other.requests).toHaveLength(0);
      h.clock.advance(1_000);
      await h.request("/v1/x", { headers: bearer(token) });
      expect(other.requests).toHaveLength(1);
      // and the event path: point it back, emit, and the very next request follows
      await h.putService(h.service, h.upstream.url, { type: "bearer" });
      await h.request("/v1/x", { headers: bearer(token) });
      expect(h.upstream.requests).toHaveLength(3);
      expect(other.requests).toHaveLength(1);
    } finally {
      await other.close();
    }
  });
});

describe("metrics", () => {
  it("counts forwarded requests and rejections by code", async () => {
    h = await startHarness();
    const { token } = await h.issue(["GET /v1/x"]);
    await h.request("/v1/x", { headers: bearer(token) });
    await h.request("/v1/y", { headers: bearer(token) });
    await h.request("/v1/x");
    const text = await h.ctx.metrics.registry.metrics();
    expect(text).toContain('agent_nonce_gateway_requests_total{service="svc",outcome="forwarded"} 1');
    expect(text).toContain('agent_nonce_gateway_requests_total{service="svc",outcome="scope_denied"} 1');
    expect(text).toContain('agent_nonce_gateway_requests_total{service="",outcome="nonce_missing"} 1');
  });
});

describe("listener", () => {
  it("serves over TLS when given a certificate", async () => {
    h = await startHarness();
    const dir = mkdtempSync(path.join(tmpdir(), "an-tls-"));
    try {
      execFileSync(
        "openssl",
        [
          "req",
          "-x509",
          "-newkey",
          "rsa:2048",
          "-nodes",
          "-subj",
          "/CN=127.0.0.1",
          "-days",
          "1",
          "-keyout",
          path.join(dir, "key.pem"),
          "-out",
          path.join(dir, "cert.pem"),
        ],
        { stdio: "ignore" },
      );
      const cert = readFileSync(path.join(dir, "cert.pem"));
      const key = readFileSync(path.join(dir, "key.pem"));
      const gw = createGatewayServer(h.ctx, { tls: { cert, key } });
      await new Promise<void>((resolve) => gw.server.listen(0, "127.0.0.1", resolve));
      const port = (gw.server.address() as AddressInfo).port;
      const client = new Agent({ connect: { ca: cert, rejectUnauthorized: false } });
      const { token } = await h.issue(["GET /v1/x"]);
      const r = await client.request({
        origin: `https://127.0.0.1:${port}`,
        path: "/v1/x",
        method: "GET",
        headers: bearer(token),
      });
      expect(r.statusCode).toBe(200);
      await r.body.text();
      await client.close();
      gw.server.closeAllConnections();
      await new Promise<void>((resolve) => gw.server.close(() => resolve()));
      await gw.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("sets the node:http options deliberately", async () => {
    h = await startHarness({ config: { gateway: { maxHeaderBytes: 4096 } } });
    const s = h.gateway.server;
    expect((s as unknown as { maxHeaderSize?: number }).maxHeaderSize).toBe(4096);
    expect(s.headersTimeout).toBeGreaterThan(0);
    expect(s.requestTimeout).toBeGreaterThan(0);
    expect(s.keepAliveTimeout).toBeGreaterThan(0);
  });
});
