import { AgentNonce, type AuditEvent } from "@agent-nonce/sdk";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { argv, fakeIo } from "../cli/fake-io.js";
import { run } from "../cli/main.js";
import { type FakeUpstream, startFakeUpstream } from "../test/fake-upstream.js";
import { type E2eServer, fakeSecret, pgReachable, startE2e } from "./harness.js";

/** GET /v1/audit/stream through real sockets: live events, filters, resume, heartbeats, access, disconnects. */

const hasPg = await pgReachable();

describe.each([
  { dialect: "sqlite" as const, enabled: true },
  { dialect: "postgres" as const, enabled: hasPg },
])("audit stream on $dialect", ({ dialect, enabled }) => {
  let server: E2eServer;
  let upstream: FakeUpstream;
  let an: AgentNonce;

  beforeAll(async () => {
    if (!enabled) return;
    upstream = await startFakeUpstream();
    server = await startE2e(dialect, { config: { audit: { heartbeatMs: 50, pollMs: 50 } } });
    an = new AgentNonce({ baseUrl: server.apiUrl as string, apiKey: server.adminApiKey });
    await an.services.put("echo", {
      upstream: upstream.url,
      insecureUpstream: true,
      auth: { type: "bearer" },
      scopes: { read: ["GET /**"] },
    });
    await an.services.setCredential("echo", fakeSecret());
  });
  afterAll(async () => {
    await server?.stop();
    await upstream?.close();
  });

  const head = async () => (await server.ctx.store.auditHead()).seq;
  const use = async (nonce: string, path = "/v1/things") => {
    const r = await fetch(`${server.gatewayUrl}${path}`, { headers: { authorization: `Bearer ${nonce}` } });
    await r.arrayBuffer();
    return r.status;
  };
  const take = async (it: AsyncGenerator<AuditEvent>, n: number): Promise<AuditEvent[]> => {
    const out: AuditEvent[] = [];
    for await (const e of it) {
      out.push(e);
      if (out.length === n) break;
    }
    return out;
  };

  it.skipIf(!enabled)("pushes new events as they are committed, filtered, in order", async () => {
    const since = await head();
    const it = an.audit.stream({ task: "live-1", sinceSeq: since });
    const got = take(it, 4);
    const n = await an.nonces.create({ service: "echo", scope: "read", agent: "bot", task: "live-1" });
    await an.nonces.create({ service: "echo", scope: "read", agent: "bot", task: "elsewhere" });
    expect(await use(n.nonce)).toBe(200);
    await an.nonces.revoke(n.id);
    const events = await got;
    // Chain order: the completion is written in a batch just after the response, so it may follow the revoke.
    expect(events.map((e) => e.type).sort()).toEqual([
      "nonce.completed",
      "nonce.issued",
      "nonce.revoked",
      "nonce.used",
    ]);
    expect(events.slice(0, 2).map((e) => e.type)).toEqual(["nonce.issued", "nonce.used"]);
    expect(events.every((e) => e.task === "live-1")).toBe(true);
    const seqs = events.map((e) => e.seq as number);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  });

  it.skipIf(!enabled)("resumes after Last-Event-ID, and sends heartbeats when idle", async () => {
    const before = await head();
    await an.nonces.create({ service: "echo", scope: "read", agent: "bot", task: "resume" });
    await an.nonces.create({ service: "echo", scope: "read", agent: "bot", task: "resume" });
    const ac = new AbortController();
    const res = await fetch(`${server.apiUrl}/v1/audit/stream?task=resume`, {
      headers: { authorization: `Bearer ${server.adminApiKey}`, "last-event-id": String(before + 1) },
      signal: ac.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = "";
    while (!text.includes(": heartbeat")) text += new TextDecoder().decode((await reader.read()).value);
    ac.abort();
    const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(ids).toEqual([before + 2]);
    expect(text).toContain("event: audit\ndata: {");
  });

  it.skipIf(!enabled)("tail=N without follow sends the backlog and ends", async () => {
    const events: AuditEvent[] = [];
    for await (const e of an.audit.stream({ tail: 3, follow: false })) events.push(e);
    expect(events).toHaveLength(3);
    expect(events.at(-1)?.seq).toBe(await head());
  });

  it.skipIf(!enabled)("issuers see only their own nonces' events; bad filters are a 400 before streaming", async () => {
    const k = await an.keys.create({
      name: "iss",
      role: "issuer",
      policy: { allow: [{ service: "echo", scopes: ["read"] }] },
    });
    const issuer = new AgentNonce({ baseUrl: server.apiUrl as string, apiKey: k.key });
    const since = await head();
    const it = issuer.audit.stream({ sinceSeq: since, agent: "shared" });
    const got = take(it, 2);
    const admins = await an.nonces.create({ service: "echo", scope: "read", agent: "shared", task: "t" });
    const mine = await issuer.nonces.create({ service: "echo", scope: "read", agent: "shared", task: "t" });
    await use(admins.nonce);
    await use(mine.nonce);
    const events = await got;
    expect(events.map((e) => [e.type, e.nonceId])).toEqual([
      ["nonce.issued", mine.id],
      ["nonce.used", mine.id],
    ]);
    const bad = await fetch(`${server.apiUrl}/v1/audit/stream?type=nonce.stolen`, {
      headers: { authorization: `Bearer ${k.key}` },
    });
    expect(bad.status).toBe(400);
    expect((await fetch(`${server.apiUrl}/v1/audit/stream`)).status).toBe(401);
  });

  it.skipIf(!enabled)("agent-nonce audit tail -f prints live events and stops on SIGINT", async () => {
    const io = fakeIo({ env: { AGENT_NONCE_URL: server.apiUrl as string, AGENT_NONCE_API_KEY: server.adminApiKey } });
    const done = run(argv("audit", "tail", "-f", "-n", "0", "--task", "tail-f"), io);
    await vi.waitFor(() => expect(io.out()).toContain("TIME"));
    // The stream is open once the server answered; give it the events now.
    await vi.waitFor(async () => {
      await an.nonces.create({ service: "echo", scope: "read", agent: "tailer", task: "tail-f" });
      expect(io.out()).toContain("nonce.issued");
    });
    io.shutdown();
    expect(await done).toBe(0);
    expect(io.out()).toMatch(/nonce\.issued\s+tailer\s+tail-f\s+nce_/);
  });

  it.skipIf(!enabled)("a disconnected client's stream is released on the server", async () => {
    await vi.waitFor(() => expect(server.audit.streams.size).toBe(0));
    const ac = new AbortController();
    const it = an.audit.stream({ signal: ac.signal });
    const first = it.next();
    await vi.waitFor(() => expect(server.audit.streams.size).toBe(1));
    await an.nonces.create({ service: "echo", scope: "read", agent: "bot", task: "disc" });
    expect((await first).value?.task).toBe("disc");
    ac.abort();
    await it.return(undefined);
    await vi.waitFor(() => expect(server.audit.streams.size).toBe(0));
  });
});
