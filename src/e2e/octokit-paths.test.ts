import type http from "node:http";
import { AgentNonce } from "@agent-nonce/sdk";
import { Octokit } from "@octokit/rest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeUpstream, type RecordedRequest, startFakeUpstream } from "../test/fake-upstream.js";
import { type E2eServer, fakeSecret, startE2e } from "./harness.js";

/**
 * Issue 11 part 6, drop-in: Octokit percent-encodes '/' inside `{path}` and `{ref}` (`docs%2Fguide%2Fintro.md`,
 * `heads%2Ffeature%2Fx`). The gateway decodes an encoded '/' only where the matched route ends in `**` (the
 * `github` template's contents, refs and trees routes), authorises that decoded form and forwards exactly it;
 * the fake GitHub below records the target it received. Everywhere else an encoded '/' is still refused, and so
 * is any dot or empty segment it would reveal (SECURITY.md rules 2 and 15).
 */

const PREFIX = "/repos/octo/hello";

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8" });
  res.end(JSON.stringify(body));
}

/** A GitHub stand-in with a file store keyed by the path as received (so an encoded '/' would be a miss). */
function githubFiles(): Promise<FakeUpstream> {
  const files = new Map<string, string>();
  return startFakeUpstream((req: RecordedRequest, res) => {
    const path = req.url.split("?")[0] as string;
    const contents = `${PREFIX}/contents/`;
    if (path.startsWith(contents)) {
      const file = path.slice(contents.length);
      if (req.method === "PUT") {
        const body = JSON.parse(req.body.toString("utf8")) as { content: string; message: string };
        files.set(file, body.content);
        return json(res, 201, { content: { type: "file", path: file, sha: "f1" }, commit: { sha: "c1" } });
      }
      if (req.method === "GET" && files.has(file)) {
        return json(res, 200, { type: "file", path: file, encoding: "base64", content: files.get(file) });
      }
    }
    if (req.method === "GET" && path.startsWith(`${PREFIX}/git/ref/`)) {
      const ref = path.slice(`${PREFIX}/git/ref/`.length);
      return json(res, 200, { ref: `refs/${ref}`, object: { type: "commit", sha: "abc123" } });
    }
    if (req.method === "GET" && path.startsWith(`${PREFIX}/git/trees/`)) {
      return json(res, 200, { sha: path.slice(`${PREFIX}/git/trees/`.length), tree: [], truncated: false });
    }
    json(res, 404, { message: "Not Found", documentation_url: "https://docs.github.com/rest" });
  });
}

let server: E2eServer;
let an: AgentNonce;
let up: FakeUpstream;
const secret = fakeSecret("ghp_FAKE_");

beforeAll(async () => {
  server = await startE2e("sqlite");
  an = new AgentNonce({ baseUrl: server.apiUrl as string, apiKey: server.adminApiKey });
  up = await githubFiles();
  await an.services.put("github", { template: "github", upstream: up.url, insecureUpstream: true });
  await an.services.setCredential("github", secret);
});

afterAll(async () => {
  await server?.stop();
  await up?.close();
});

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const octokit = (nonce: string) => new Octokit({ auth: nonce, baseUrl: server.gatewayUrl as string, log: quiet });
const issue = (scope: string[]) => an.nonces.create({ service: "github", scope, agent: "octokit-paths", task: "t" });
const seenSince = (n: number) => up.requests.slice(n).map((r) => `${r.method} ${r.url}`);

type Rejection = { status: number; response?: { headers: Record<string, string> } };

describe("@octokit/rest with nested paths through the gateway", () => {
  it("writes and reads docs/guide/intro.md: the upstream receives the decoded path, with the real token", async () => {
    const n = await issue(["contents:read", "contents:write"]);
    const gh = octokit(n.nonce);
    const before = up.requests.length;
    const content = Buffer.from("# Intro\n").toString("base64");
    const put = await gh.repos.createOrUpdateFileContents({
      owner: "octo",
      repo: "hello",
      path: "docs/guide/intro.md",
      message: "add intro",
      content,
    });
    expect(put.status).toBe(201);
    expect(put.data.content?.path).toBe("docs/guide/intro.md");
    const got = await gh.repos.getContent({ owner: "octo", repo: "hello", path: "docs/guide/intro.md" });
    expect(got.status).toBe(200);
    expect((got.data as { content: string }).content).toBe(content);
    const ref = await gh.git.getRef({ owner: "octo", repo: "hello", ref: "heads/feature/x" });
    expect(ref.data.ref).toBe("refs/heads/feature/x");
    const tree = await gh.git.getTree({ owner: "octo", repo: "hello", tree_sha: "feature/x" });
    expect(tree.data.sha).toBe("feature/x");
    expect(seenSince(before)).toEqual([
      `PUT ${PREFIX}/contents/docs/guide/intro.md`,
      `GET ${PREFIX}/contents/docs/guide/intro.md`,
      `GET ${PREFIX}/git/ref/heads/feature/x`,
      `GET ${PREFIX}/git/trees/feature/x`,
    ]);
    for (const r of up.requests.slice(before)) {
      expect(r.headers.authorization).toBe(`Bearer ${secret}`);
      expect(r.url).not.toContain(n.nonce);
    }
    expect((await an.nonces.get(n.id)).uses).toBe(4);
  });

  it("an encoded '/' that reveals a dot segment is refused with 400 and never forwarded", async () => {
    const n = await issue(["contents:read"]);
    const before = up.requests.length;
    for (const path of ["docs/../../secrets/key.pem", "docs//intro.md", "docs/guide/"]) {
      // Octokit sends docs%2F..%2F..%2Fsecrets%2Fkey.pem and friends.
      const err = (await octokit(n.nonce)
        .repos.getContent({ owner: "octo", repo: "hello", path })
        .catch((e: unknown) => e)) as Rejection;
      expect(err.status, path).toBe(400);
      expect(err.response?.headers["x-agent-nonce-error"], path).toBe("bad_request");
    }
    expect(up.requests.length).toBe(before);
    expect((await an.nonces.get(n.id)).uses).toBe(0);
  });

  it("an encoded '/' outside a route's final ** is refused with 403 scope_denied and never forwarded", async () => {
    const n = await issue(["contents:read", "issues:read"]);
    const before = up.requests.length;
    const attempts = [
      // {branch} is a single-segment parameter: "feature%2Fx" may not fill it.
      () => octokit(n.nonce).repos.getBranch({ owner: "octo", repo: "hello", branch: "feature/x" }),
      // An encoded '/' standing in for the route's own segments: /repos/octo/hello%2Fcontents/... decodes to a
      // path contents:read covers, but "contents" would come from inside {repo}.
      () => octokit(n.nonce).repos.getContent({ owner: "octo", repo: "hello/contents", path: "README.md" }),
      () => octokit(n.nonce).issues.get({ owner: "octo/hello", repo: "issues", issue_number: 2 }),
    ];
    for (const call of attempts) {
      const err = (await call().catch((e: unknown) => e)) as Rejection;
      expect(err.status).toBe(403);
      expect(err.response?.headers["x-agent-nonce-error"]).toBe("scope_denied");
    }
    expect(up.requests.length).toBe(before);
    expect((await an.nonces.get(n.id)).uses).toBe(0);
  });
});
