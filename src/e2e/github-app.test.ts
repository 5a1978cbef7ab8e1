import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { Octokit } from "@octokit/rest";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ManualClock } from "../core/clock.js";
import { type FakeGithub, startFakeGithub } from "../test/fake-github.js";
import { type E2eServer, startE2e } from "./harness.js";

/**
 * GitHub App services end to end (issue 12 part 2): the real server, a fake GitHub that verifies the App JWT
 * with the App's public key, and Octokit as the agent's client pointed at the gateway with the nonce as its token.
 */

const REDACTED = "[REDACTED by agent-nonce]";
let server: E2eServer;
let gh: FakeGithub;
const clock = new ManualClock(Date.UTC(2026, 0, 1));

async function api(method: string, p: string, body?: unknown) {
  const res = await fetch(`${server.apiUrl}${p}`, {
    method,
    headers: { authorization: `Bearer ${server.adminApiKey}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function issue(extra: Record<string, unknown> = {}, repos = ["octo-org/api"]) {
  const r = await api("POST", "/v1/nonces", {
    service: "github",
    scope: ["issues:read", "metadata:read"],
    agent: "triage-bot",
    task: "t-1",
    ttl: "30m",
    github: { repositories: repos },
    ...extra,
  });
  expect(r.status).toBe(201);
  return r.body as { id: string; nonce: string };
}

const octo = (nonce: string) =>
  new Octokit({ auth: nonce, baseUrl: server.gatewayUrl as string, request: { retries: 0 } });

async function auditOf(nonceId: string) {
  const r = await api("GET", `/v1/audit?nonce=${nonceId}&limit=100`);
  return r.body.events as { type: string; reason: string | null; data: Record<string, unknown> | null }[];
}

beforeAll(async () => {
  server = await startE2e("sqlite", { clock });
  gh = await startFakeGithub(clock);
  const put = await api("PUT", "/v1/services/github", {
    template: "github",
    upstream: gh.url,
    insecure_upstream: true,
    auth: { type: "github_app", app_id: gh.appId, installation_id: gh.installationId },
  });
  expect(put.status).toBe(200);
  expect(put.body.auth).toEqual({ type: "github_app", app_id: gh.appId, installation_id: gh.installationId });
  const cred = await api("PUT", "/v1/services/github/credential", { private_key: gh.privateKey });
  expect(cred.status).toBe(200);
  expect(JSON.stringify(cred.body)).not.toContain("PRIVATE KEY");
});

afterAll(async () => {
  await server?.stop();
  await gh?.close();
});

describe("github_app services", () => {
  it("GET /v1/templates lists the github_app form of github", async () => {
    const r = await api("GET", "/v1/templates");
    const github = r.body.templates.find((t: { name: string }) => t.name === "github");
    expect(github.auth_forms.map((f: { type: string }) => f.type)).toEqual(["bearer", "github_app"]);
  });

  it("refuses a nonce without repositories, and repositories on a static service", async () => {
    const r = await api("POST", "/v1/nonces", { service: "github", scope: "issues:read", agent: "a" });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/repositories/);
    const two = await api("POST", "/v1/nonces", {
      service: "github",
      scope: "issues:read",
      agent: "a",
      github: { repositories: ["octo-org/api", "other-org/web"] },
    });
    expect(two.status).toBe(400);
  });

  it("mints one installation token per nonce, narrowed to its repositories and its scopes' permissions", async () => {
    const before = gh.mints.length;
    const a = await issue();
    const b = await issue({}, ["octo-org/api", "octo-org/web"]);
    for (const n of [a, a, b, b]) {
      const res = await octo(n.nonce).rest.issues.listForRepo({ owner: "octo-org", repo: "api" });
      expect(res.status).toBe(200);
      expect(res.data[0]?.title).toBe("First issue");
    }
    const mints = gh.mints.slice(before);
    expect(mints).toHaveLength(2);
    expect(mints[0]?.token).not.toBe(mints[1]?.token);
    expect(mints[0]?.repositories).toEqual(["api"]);
    expect(mints[1]?.repositories).toEqual(["api", "web"]);
    expect(mints[0]?.permissions).toEqual({ metadata: "read", issues: "read" });
    expect(gh.rejectedJwts).toBe(0);
    // Each request carried its own nonce's token.
    const used = gh.repoCalls.slice(-4).map((c) => c.token);
    expect(used).toEqual([mints[0]?.token, mints[0]?.token, mints[1]?.token, mints[1]?.token]);
    const events = await auditOf(a.id);
    const minted = events.filter((e) => e.type === "credential.minted");
    expect(minted).toHaveLength(1);
    expect(minted[0]?.data).toMatchObject({ kind: "github_app", fingerprint: expect.stringMatching(/^sha256:/) });
  });

  it("refuses another repository before anything is sent (403 scope_denied, audited, no mint)", async () => {
    const n = await issue();
    const mints = gh.mints.length;
    const calls = gh.repoCalls.length;
    const err = await octo(n.nonce)
      .rest.issues.listForRepo({ owner: "octo-org", repo: "secrets" })
      .catch((e: { status: number; response: { headers: Record<string, string> } }) => e);
    expect(err).toMatchObject({ status: 403 });
    expect((err as { response: { headers: Record<string, string> } }).response.headers["x-agent-nonce-error"]).toBe(
      "scope_denied",
    );
    expect(gh.mints.length).toBe(mints);
    expect(gh.repoCalls.length).toBe(calls);
    const rejected = (await auditOf(n.id)).filter((e) => e.type === "nonce.rejected");
    expect(rejected[0]?.data).toMatchObject({ repository: "octo-org/secrets" });
  });

  it("revokes the token upstream when the nonce is revoked", async () => {
    const n = await issue();
    await octo(n.nonce).rest.issues.listForRepo({ owner: "octo-org", repo: "api" });
    const token = gh.mints.at(-1)?.token as string;
    expect((await api("DELETE", `/v1/nonces/${n.id}`)).status).toBe(204);
    await vi.waitFor(() => expect(gh.revoked).toContain(token));
    await vi.waitFor(async () =>
      expect((await auditOf(n.id)).find((e) => e.type === "credential.destroyed")).toMatchObject({
        reason: "revoked",
        data: { revoked_upstream: true },
      }),
    );
  });

  it("revokes the token when the nonce is exhausted by its last use", async () => {
    const n = await issue({ max_uses: 2 });
    await octo(n.nonce).rest.issues.listForRepo({ owner: "octo-org", repo: "api" });
    const token = gh.mints.at(-1)?.token as string;
    await octo(n.nonce).rest.issues.listForRepo({ owner: "octo-org", repo: "api" });
    await vi.waitFor(() => expect(gh.revoked).toContain(token));
  });

  it("revokes the token when the nonce expires (the sweep, on the injected clock)", async () => {
    const n = await issue({ ttl: "2m" });
    await octo(n.nonce).rest.issues.listForRepo({ owner: "octo-org", repo: "api" });
    const token = gh.mints.at(-1)?.token as string;
    await server.minted?.sweep();
    expect(gh.revoked).not.toContain(token);
    clock.advance(121_000);
    await server.minted?.sweep();
    expect(gh.revoked).toContain(token);
    const destroyed = (await auditOf(n.id)).find((e) => e.type === "credential.destroyed");
    expect(destroyed?.reason).toBe("expired");
  });

  it("re-mints when the nonce outlives its token, and revokes the old one", async () => {
    gh.tokenTtlMs = 10 * 60_000;
    try {
      const n = await issue();
      await octo(n.nonce).rest.issues.listForRepo({ owner: "octo-org", repo: "api" });
      const first = gh.mints.at(-1)?.token as string;
      clock.advance(9.5 * 60_000); // within the refresh margin of the token's expiry
      await octo(n.nonce).rest.issues.listForRepo({ owner: "octo-org", repo: "api" });
      const second = gh.mints.at(-1)?.token as string;
      expect(second).not.toBe(first);
      expect(gh.repoCalls.at(-1)?.token).toBe(second);
      expect(gh.revoked).toContain(first);
    } finally {
      gh.tokenTtlMs = 3_600_000;
    }
  });

  it("scrubs the minted token from an upstream that echoes it", async () => {
    const n = await issue();
    const res = await octo(n.nonce).request("GET /repos/{owner}/{repo}/issues/{issue_number}", {
      owner: "octo-org",
      repo: "api",
      issue_number: 7,
    });
    const token = gh.mints.at(-1)?.token as string;
    expect(res.data.body).toBe(`you sent token ${REDACTED}`);
    expect(JSON.stringify(res.data)).not.toContain(token);
  });

  it("no installation token, private key or JWT in audit events, logs or the data dir", async () => {
    const all = await api("GET", "/v1/audit?limit=1000");
    const audit = JSON.stringify(all.body);
    const logs = server.logs();
    const files = readdirSync(server.dataDir, { recursive: true, withFileTypes: true })
      .filter((d) => d.isFile())
      .map((d) => readFileSync(path.join(d.parentPath, d.name)).toString("latin1"))
      .join("\n");
    expect(gh.mints.length).toBeGreaterThan(3);
    for (const m of gh.mints) {
      for (const hay of [audit, logs, files]) expect(hay).not.toContain(m.token);
    }
    const keyBody = gh.privateKey.split("\n")[1] as string;
    for (const hay of [audit, logs, files]) expect(hay).not.toContain(keyBody);
    expect(audit).toContain("credential.minted");
  });
});
