import http from "node:http";
import type { AddressInfo } from "node:net";
import { AgentNonce, AgentNonceError, type AuditEvent, type Nonce } from "@agent-nonce/sdk";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeUpstream, startFakeUpstream } from "../test/fake-upstream.js";
import { type E2eServer, fakeSecret, pgReachable, startE2e } from "./harness.js";

/**
 * Delegation and tripwires on the real server (both listeners, real sockets), on SQLite and PostgreSQL:
 * children narrower than their parent, lineage ended at once by the parent's revocation or exhaustion, widening
 * and a fifth level refused with nothing issued; canary nonces tripped by every kind of presentation and
 * delivered to a local webhook sink; a dead nonce replayed from a new source address alerted.
 */

const hasPg = await pgReachable();

// biome-ignore lint/suspicious/noExplicitAny: public audit events as the webhook receives them
type PublicEvent = Record<string, any>;

describe.each([
  { dialect: "sqlite" as const, skip: false },
  { dialect: "postgres" as const, skip: !hasPg },
])("delegation and tripwires ($dialect)", ({ dialect, skip }) => {
  let server: E2eServer;
  let upstream: FakeUpstream;
  let hook: http.Server;
  const received: PublicEvent[] = [];
  let an: AgentNonce;

  beforeAll(async () => {
    if (skip) return;
    upstream = await startFakeUpstream();
    hook = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c) => {
        body += c;
      });
      req.on("end", () => {
        received.push(...(JSON.parse(body).events as PublicEvent[]));
        res.end("ok");
      });
    });
    await new Promise<void>((r) => hook.listen(0, "127.0.0.1", r));
    const port = (hook.address() as AddressInfo).port;
    server = await startE2e(dialect, {
      config: { audit: { sinks: [{ type: "webhook", url: `http://127.0.0.1:${port}/hook`, flush_ms: 5 }] } },
    });
    an = new AgentNonce({ baseUrl: server.apiUrl as string, apiKey: server.adminApiKey });
    await an.services.put("echo", {
      upstream: upstream.url,
      insecureUpstream: true,
      auth: { type: "bearer" },
      scopes: { read: ["GET /items/**"], one: ["GET /items/{id}"], write: ["POST /items"], all: ["* /**"] },
    });
    await an.services.setCredential("echo", fakeSecret());
  });
  afterAll(async () => {
    if (skip) return;
    await server?.stop();
    hook.closeAllConnections();
    await new Promise((r) => hook.close(r));
    await upstream.close();
  });

  const gw = (token: string, path = "/items/1") =>
    request(`${server.gatewayUrl}${path}`, { headers: { authorization: `Bearer ${token}` } }).then(async (r) => {
      await r.body.dump();
      return { status: r.statusCode, code: r.headers["x-agent-nonce-error"] };
    });

  /** The same request from another loopback address (node:http binds the client socket to it). */
  const fromOther = (token: string, path: string) =>
    new Promise<{ status: number | undefined; code: unknown }>((resolve, reject) => {
      const url = new URL(`${server.gatewayUrl}${path}`);
      const req = http.get(
        {
          host: url.hostname,
          port: url.port,
          path,
          localAddress: "127.0.0.2",
          agent: false,
          headers: { authorization: `Bearer ${token}` },
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve({ status: res.statusCode, code: res.headers["x-agent-nonce-error"] }));
        },
      );
      req.on("error", reject);
    });

  const refusal = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (e) {
      if (e instanceof AgentNonceError) return { code: e.code, status: e.status, details: e.details };
      throw e;
    }
    throw new Error("expected a refusal");
  };

  const events = async (type: string, nonceId?: string) => {
    const out: AuditEvent[] = [];
    for await (const e of an.audit.iterate({ type, ...(nonceId ? { nonce: nonceId } : {}) })) out.push(e);
    return out;
  };

  const countNonces = async () => {
    let n = 0;
    for await (const _ of an.nonces.iterate({})) n++;
    return n;
  };

  it.skipIf(skip)(
    "a chain root → child → grandchild: lineage in views and events; revoking the root ends the grandchild at once",
    async () => {
      const root = await an.nonces.create({
        service: "echo",
        scope: ["read", "write"],
        agent: "orchestrator",
        maxUses: 100,
      });
      const child = await root.delegate({ scope: "read", agent: "sub-agent" });
      const grand = await child.delegate({ scope: "one", maxUses: 5, task: "leaf" });
      expect(child).toMatchObject({ parentId: root.id, depth: 1, agent: "sub-agent", maxUses: 100 });
      expect(grand).toMatchObject({ parentId: child.id, depth: 2, agent: "sub-agent", task: "leaf", maxUses: 5 });
      expect(grand.expiresAt.getTime()).toBeLessThanOrEqual(root.expiresAt.getTime());
      expect(await an.nonces.get(grand.id)).toMatchObject({ parentId: child.id, depth: 2, status: "active" });
      expect(await an.nonces.get(root.id)).toMatchObject({ parentId: null, depth: 0 });
      const delegated = await events("nonce.delegated", grand.id);
      expect(delegated).toHaveLength(1);
      expect(delegated[0]).toMatchObject({
        actor: { type: "nonce", id: child.id },
        data: { parent_id: child.id, depth: 2 },
      });

      expect(await gw(grand.nonce)).toEqual({ status: 200, code: undefined });
      expect(await gw(grand.nonce, "/items/1/sub")).toMatchObject({ status: 403, code: "scope_denied" });

      await root.revoke();
      expect(await gw(grand.nonce)).toEqual({ status: 401, code: "nonce_revoked" });
      expect(await gw(child.nonce)).toEqual({ status: 401, code: "nonce_revoked" });
      // Revoked in the same transaction as the root: every view says so, each with its own event.
      expect((await an.nonces.get(grand.id)).status).toBe("revoked");
      const cascade = await events("nonce.revoked", grand.id);
      expect(cascade[0]).toMatchObject({ reason: "ancestor_revoked", data: { ancestor_id: root.id } });
      // A dead parent cannot delegate: its own 401.
      expect(await refusal(child.delegate({ scope: "one" }))).toMatchObject({ code: "nonce_revoked", status: 401 });
    },
  );

  it.skipIf(skip)("exhausting a parent ends its child, which never used anything itself", async () => {
    const root = await an.nonces.create({ service: "echo", scope: "read", agent: "orchestrator", maxUses: 2 });
    const child = await root.delegate({ scope: "read" });
    expect(child.maxUses).toBe(2);
    expect(await gw(child.nonce)).toMatchObject({ status: 200 });
    expect(await gw(root.nonce)).toMatchObject({ status: 200 });
    expect(await gw(root.nonce)).toMatchObject({ status: 200 });
    expect(await gw(root.nonce)).toEqual({ status: 401, code: "nonce_exhausted" });
    expect(await gw(child.nonce)).toEqual({ status: 401, code: "nonce_revoked" });
    // The nonce's own view at the gateway agrees, and so do the control plane's views of the child.
    expect(await gw(child.nonce, "/.well-known/agent-nonce")).toEqual({ status: 401, code: "nonce_revoked" });
    expect((await an.nonces.get(child.id)).status).toBe("revoked");
    const listed = await an.nonces.list({ agent: child.agent });
    expect(listed.nonces.find((x) => x.id === child.id)?.status).toBe("revoked");
  });

  it.skipIf(skip)(
    "widening is refused with its code and nothing is issued (scope, ttl, uses, rate); constraints only narrow",
    async () => {
      const root = await an.nonces.create({
        service: "echo",
        scope: "read",
        agent: "orchestrator",
        maxUses: 10,
        ttl: "10m",
        rate: "10/m",
        constraints: { "query.limit": { max: 10 } },
      });
      const before = await countNonces();
      const cases: [Parameters<Nonce["delegate"]>[0], string][] = [
        [{ scope: "write" }, "scope"],
        [{ scope: "all" }, "scope"],
        [{ scope: "GET /**" }, "scope"],
        [{ scope: "GET /other/{id}" }, "scope"],
        [{ scope: "* /items/1" }, "scope"],
        [{ scope: "read", ttl: "11m" }, "ttl"],
        [{ scope: "read", maxUses: 11 }, "uses"],
        [{ scope: "read", rate: "11/m" }, "rate"],
        [{ scope: "read", rate: "1/s" }, "rate"],
      ];
      for (const [params, reason] of cases) {
        expect(await refusal(root.delegate(params))).toMatchObject({
          code: "delegation_denied",
          status: 403,
          details: { reason },
        });
      }
      expect(await countNonces()).toBe(before);
      expect(
        await events("nonce.delegated", undefined).then((e) => e.filter((x) => x.data?.parent_id === root.id)),
      ).toEqual([]);
      // Each refusal is audited as an issuance denial by the parent nonce, with its dimension.
      const denied = await events("nonce.issue_denied", root.id);
      expect(denied.map((e) => e.reason).sort()).toEqual(cases.map(([, r]) => `delegation_${r}`).sort());
      expect(denied[0]).toMatchObject({ actor: { type: "nonce", id: root.id }, agent: "orchestrator" });
      expect(denied.find((e) => e.scopes?.includes("write"))?.data).toMatchObject({ parent_id: root.id, depth: 1 });

      // A child's own constraints are ANDed with the parent's: asking for more never gets more.
      const child = await root.delegate({ scope: "GET /items/{id}", constraints: { "query.limit": { max: 100 } } });
      expect(child.rate).toBe("10/m");
      expect(await gw(child.nonce, "/items/1?limit=5")).toMatchObject({ status: 200 });
      expect(await gw(child.nonce, "/items/1?limit=50")).toEqual({ status: 403, code: "constraint_failed" });
    },
  );

  it.skipIf(skip)("four levels below a root are allowed, a fifth is refused", async () => {
    let n = await an.nonces.create({ service: "echo", scope: "read", agent: "orchestrator" });
    for (let depth = 1; depth <= 4; depth++) {
      n = await n.delegate({ scope: "read" });
      expect(n.depth).toBe(depth);
    }
    const before = await countNonces();
    expect(await refusal(n.delegate({ scope: "read" }))).toMatchObject({ code: "delegation_too_deep", status: 403 });
    expect(await countNonces()).toBe(before);
    expect((await events("nonce.issue_denied", n.id)).map((e) => e.reason)).toEqual(["delegation_too_deep"]);
    expect(await gw(n.nonce)).toMatchObject({ status: 200 });
  });

  it.skipIf(skip)(
    "a canary is tripped by every kind of presentation, refused 401, never forwarded, and reaches the sink",
    async () => {
      const canary = await an.nonces.create({ service: "echo", scope: "read", agent: "honeypot", canary: true });
      expect(canary.canary).toBe(true);
      const forwarded = upstream.requests.length;
      const presentations = [
        "/items/1", // in scope
        "/admin", // out of scope
        "/items/a;b", // a path the gateway refuses (rule 2)
        "/.well-known/agent-nonce", // the nonce's own view
      ];
      for (const p of presentations) expect(await gw(canary.nonce, p)).toEqual({ status: 401, code: "nonce_invalid" });
      await canary.revoke();
      expect(await gw(canary.nonce)).toEqual({ status: 401, code: "nonce_invalid" }); // dead
      expect(await refusal(canary.delegate({ scope: "read" }))).toMatchObject({ code: "nonce_invalid" });
      expect(upstream.requests.length).toBe(forwarded);

      const tripped = await events("nonce.canary_tripped", canary.id);
      expect(tripped).toHaveLength(6);
      expect(tripped.map((e) => e.request?.path)).toEqual([...presentations, "/items/1", "/v1/nonces/delegate"]);
      for (const e of tripped) expect(e.sourceIp).toBe("127.0.0.1");
      await expect
        .poll(() => received.filter((e) => e.type === "nonce.canary_tripped" && e.nonce_id === canary.id).length)
        .toBe(6);
    },
  );

  it.skipIf(skip)(
    "a dead nonce from a new source address: a metric and a nonce.replayed event; from its own address neither",
    async () => {
      const scrape = async () => {
        const text = await (await fetch(`${server.apiUrl}/metrics`)).text();
        const m = /agent_nonce_dead_nonce_new_address_total\{reason="nonce_revoked"\} (\d+)/.exec(text);
        return Number(m?.[1] ?? 0);
      };
      const n = await an.nonces.create({ service: "echo", scope: "read", agent: "leaky" });
      expect(await gw(n.nonce)).toMatchObject({ status: 200 });
      await n.revoke();
      const before = await scrape();
      expect(await gw(n.nonce)).toEqual({ status: 401, code: "nonce_revoked" });
      expect(await events("nonce.replayed", n.id)).toEqual([]);
      expect(await scrape()).toBe(before);

      expect(await fromOther(n.nonce, "/items/1")).toEqual({ status: 401, code: "nonce_revoked" });
      expect(await fromOther(n.nonce, "/items/2")).toEqual({ status: 401, code: "nonce_revoked" });
      const replayed = await events("nonce.replayed", n.id);
      expect(replayed).toHaveLength(1);
      expect(replayed[0]).toMatchObject({
        sourceIp: "127.0.0.2",
        reason: "nonce_revoked",
        data: { new_address: true },
      });
      expect(await scrape()).toBe(before + 1);
      await expect.poll(() => received.some((e) => e.type === "nonce.replayed" && e.nonce_id === n.id)).toBe(true);
    },
  );
});
