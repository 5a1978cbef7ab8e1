import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { argv, fakeIo } from "./fake-io.js";
import { run } from "./main.js";

/** A stand-in control plane that records what the CLI sent and answers in the API's shapes. */
interface Seen {
  method: string;
  url: string;
  auth: string | undefined;
  body: unknown;
}

const API_KEY = `ank_test_${randomBytes(8).toString("hex")}`;
const TOKEN = `an_test${randomBytes(12).toString("hex")}`;
let seen: Seen[] = [];
let server: http.Server;
let env: Record<string, string>;

const NONCE_VIEW = {
  id: "nce_1",
  service: "stripe",
  scopes: ["read:customers"],
  agent: "billing-bot",
  task: "sync-42",
  status: "active",
  uses: 0,
  max_uses: null,
  created_at: "2026-01-01T00:00:00.000Z",
  expires_at: "2026-01-01T00:05:00.000Z",
  revoked_at: null,
};

function answer(s: Seen): [number, unknown] {
  const path = new URL(s.url, "http://x").pathname;
  const key = `${s.method} ${path}`;
  if (key === "PUT /v1/services/stripe/credential")
    return [200, { fingerprint: "fp_abc", updated_at: NONCE_VIEW.created_at }];
  if (key === "POST /v1/nonces") {
    const { max_uses, ...rest } = s.body as Record<string, unknown>;
    return [
      201,
      {
        ...NONCE_VIEW,
        ...rest,
        scopes: [rest.scope].flat(),
        max_uses: max_uses ?? null,
        nonce: TOKEN,
        gateway_url: "http://127.0.0.1:7071",
      },
    ];
  }
  if (key === "GET /v1/nonces") return [200, { nonces: [NONCE_VIEW], next_cursor: null }];
  if (key === "POST /v1/nonces/revoke") return [200, { revoked: 2 }];
  if (key === "DELETE /v1/nonces/nce_1") return [204, undefined];
  if (key === "GET /v1/nonces/nce_gone")
    return [404, { error: { code: "nonce_not_found", message: 'no nonce with id "nce_gone"', request_id: "req_1" } }];
  if (key === "PUT /v1/services/stripe") {
    return [
      200,
      {
        name: "stripe",
        template: null,
        upstream: "http://127.0.0.1:1",
        auth: { type: "bearer" },
        scopes: {},
        insecure_upstream: true,
        credential: { set: false, fingerprint: null, updated_at: null },
      },
    ];
  }
  if (key === "POST /v1/keys") return [201, { id: "key_1", key: "ank_created", ...(s.body as object) }];
  return [404, { error: { code: "not_found", message: `no route ${key}`, request_id: "req_2" } }];
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let text = "";
    req.on("data", (c: Buffer) => {
      text += c.toString();
    });
    req.on("end", () => {
      const s: Seen = {
        method: req.method ?? "",
        url: req.url ?? "",
        auth: req.headers.authorization,
        body: text ? JSON.parse(text) : undefined,
      };
      seen.push(s);
      const [status, body] = answer(s);
      if (body === undefined) res.writeHead(status).end();
      else res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  env = { AGENT_NONCE_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, AGENT_NONCE_API_KEY: API_KEY };
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  seen = [];
});

describe("credential set", () => {
  const secret = () => `sk_test_FAKE_${randomBytes(8).toString("hex")}`;

  it("refuses a secret given as an argument, without echoing it or calling the API", async () => {
    const s = secret();
    for (const args of [
      ["credential", "set", "stripe", s],
      ["credential", "set", "stripe", `--secret=${s}`],
      ["credential", "set", "stripe", "--secret", s],
      ["credential", "set", "stripe", "--password", s],
    ]) {
      const io = fakeIo({ env, stdin: "" });
      expect(await run(argv(...args), io), args.join(" ")).toBe(2);
      expect(io.err()).toMatch(/^error: invalid_request: .*never takes the secret on the command line/);
      expect(io.err() + io.out()).not.toContain(s);
    }
    expect(seen).toEqual([]);
  });

  it("does not echo the value of an unknown option", async () => {
    const s = secret();
    const io = fakeIo({ env });
    expect(await run(argv("credential", "set", "stripe", `--key=${s}`), io)).toBe(2);
    expect(io.err()).toContain("unknown option '--key=…'");
    expect(io.err()).not.toContain(s);
  });

  it("sends the secret from stdin, with the API key, and prints only the fingerprint", async () => {
    const s = secret();
    const io = fakeIo({ env, stdin: `${s}\n` });
    expect(await run(argv("credential", "set", "stripe"), io)).toBe(0);
    expect(seen).toEqual([
      { method: "PUT", url: "/v1/services/stripe/credential", auth: `Bearer ${API_KEY}`, body: { secret: s } },
    ]);
    expect(io.out()).toBe("credential set for stripe (fingerprint fp_abc)\n");
  });

  it("takes --from-env VAR, and --username with the password on stdin", async () => {
    const s = secret();
    expect(
      await run(
        argv("credential", "set", "stripe", "--from-env", "STRIPE_KEY"),
        fakeIo({ env: { ...env, STRIPE_KEY: s } }),
      ),
    ).toBe(0);
    expect(await run(argv("credential", "set", "stripe", "--username", "svc"), fakeIo({ env, stdin: s }))).toBe(0);
    expect(seen.map((x) => x.body)).toEqual([{ secret: s }, { username: "svc", password: s }]);
  });
});

describe("argument parsing", () => {
  it("nonce create sends the seed's request in snake_case; --json prints the API's JSON unchanged", async () => {
    const io = fakeIo({ env });
    const args = [
      "nonce",
      "create",
      "--service",
      "stripe",
      "--scope",
      "read:customers",
      "--ttl",
      "5m",
      "--agent",
      "billing-bot",
      "--task",
      "sync-42",
      "--max-uses",
      "3",
      "--json",
    ];
    expect(await run(argv(...args), io)).toBe(0);
    expect(seen[0]?.body).toEqual({
      service: "stripe",
      scope: "read:customers",
      ttl: "5m",
      agent: "billing-bot",
      task: "sync-42",
      max_uses: 3,
    });
    const printed = JSON.parse(io.out());
    expect(printed).toMatchObject({
      id: "nce_1",
      nonce: TOKEN,
      max_uses: 3,
      expires_at: "2026-01-01T00:05:00.000Z",
      gateway_url: "http://127.0.0.1:7071",
    });
  });

  it("nonce create: repeated --scope becomes an array, numeric --ttl is seconds, -q prints only the token", async () => {
    const io = fakeIo({ env });
    expect(
      await run(
        argv(
          "nonce",
          "create",
          "--service",
          "s",
          "--scope",
          "a",
          "--scope",
          "GET /x",
          "--ttl",
          "30",
          "--agent",
          "x",
          "-q",
        ),
        io,
      ),
    ).toBe(0);
    expect(seen[0]?.body).toEqual({ service: "s", scope: ["a", "GET /x"], ttl: 30, agent: "x" });
    expect(io.out()).toBe(`${TOKEN}\n`);
  });

  it("nonce create --rate and --constraints (a JSON object) reach the API; bad JSON is a usage error", async () => {
    const constraints = { "POST /v1/refunds": { "body.amount": { max: 5000 } } };
    const base = ["nonce", "create", "--service", "s", "--scope", "refunds", "--agent", "x", "--rate", "60/m"];
    const io = fakeIo({ env });
    expect(await run(argv(...base, "--constraints", JSON.stringify(constraints), "-q"), io)).toBe(0);
    expect(seen[0]?.body).toEqual({ service: "s", scope: "refunds", agent: "x", rate: "60/m", constraints });
    const json = fakeIo({ env });
    expect(await run(argv(...base, "--json"), json)).toBe(0);
    expect(seen[1]?.body).toEqual({ service: "s", scope: "refunds", agent: "x", rate: "60/m" });
    for (const bad of ["{nope", "[1]", "5"]) {
      const e = fakeIo({ env });
      expect(await run(argv(...base, "--constraints", bad), e)).not.toBe(0);
      expect(e.err()).toMatch(/JSON object/);
    }
    expect(seen).toHaveLength(2);
  });

  it("nonce revoke: by id, by filters, and not both or neither", async () => {
    const a = fakeIo({ env });
    expect(await run(argv("nonce", "revoke", "nce_1"), a)).toBe(0);
    expect(a.out()).toBe("revoked nce_1\n");
    const b = fakeIo({ env });
    expect(await run(argv("nonce", "revoke", "--task", "sync-42", "--agent", "billing-bot"), b)).toBe(0);
    expect(b.out()).toBe("revoked 2 nonces\n");
    expect(seen.map((s) => `${s.method} ${s.url} ${JSON.stringify(s.body ?? null)}`)).toEqual([
      "DELETE /v1/nonces/nce_1 null",
      'POST /v1/nonces/revoke {"task":"sync-42","agent":"billing-bot"}',
    ]);
    for (const args of [
      ["nonce", "revoke"],
      ["nonce", "revoke", "nce_1", "--task", "t"],
    ]) {
      const io = fakeIo({ env });
      expect(await run(argv(...args), io)).toBe(2);
      expect(io.err()).toMatch(/^error: invalid_request: /);
    }
  });

  it("service put parses --scope name=ROUTE,ROUTE and --insecure-upstream", async () => {
    const io = fakeIo({ env });
    const args = [
      "service",
      "put",
      "stripe",
      "--upstream",
      "http://127.0.0.1:1",
      "--auth-type",
      "header",
      "--auth-name",
      "x-api-key",
      "--scope",
      "read=GET /v1/a,GET /v1/a/{id}",
      "--scope",
      "write=POST /v1/a",
      "--insecure-upstream",
    ];
    expect(await run(argv(...args), io)).toBe(0);
    expect(seen[0]?.body).toEqual({
      upstream: "http://127.0.0.1:1",
      auth: { type: "header", name: "x-api-key" },
      scopes: { read: ["GET /v1/a", "GET /v1/a/{id}"], write: ["POST /v1/a"] },
      insecure_upstream: true,
    });
    const bad = fakeIo({ env });
    expect(await run(argv("service", "put", "x", "--scope", "no-equals"), bad)).toBe(2);
  });

  it("key create reads --policy JSON and prints the key once with a warning", async () => {
    const io = fakeIo({ env });
    const policy = { allow: [{ service: "stripe", scopes: ["read:customers"], max_ttl: "10m" }] };
    expect(
      await run(argv("key", "create", "--name", "orch", "--role", "issuer", "--policy", JSON.stringify(policy)), io),
    ).toBe(0);
    expect(seen[0]?.body).toEqual({ name: "orch", role: "issuer", policy });
    expect(io.out()).toContain("will not be shown again");
    expect(io.out().match(/ank_created/g)).toHaveLength(1);
    const bad = fakeIo({ env });
    expect(await run(argv("key", "create", "--name", "x", "--role", "root"), bad)).toBe(2);
    expect(
      await run(argv("key", "create", "--name", "x", "--role", "issuer", "--policy", "{nope"), fakeIo({ env })),
    ).toBe(2);
  });

  it("nonce list prints an aligned table", async () => {
    const io = fakeIo({ env });
    expect(await run(argv("nonce", "list", "--task", "sync-42"), io)).toBe(0);
    expect(seen[0]?.url).toBe("/v1/nonces?task=sync-42");
    const lines = io.out().trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ID\s+SERVICE\s+AGENT\s+TASK\s+STATUS\s+USES\s+EXPIRES$/);
    expect(lines[1]).toMatch(/^nce_1\s+stripe\s+billing-bot\s+sync-42\s+active\s+0\s+2026-01-01T00:05:00Z$/);
    expect(lines[1]?.indexOf("stripe")).toBe(lines[0]?.indexOf("SERVICE"));
  });

  it("API errors print `error: <code>: <message>` and exit 1; no stack trace", async () => {
    const io = fakeIo({ env });
    expect(await run(argv("nonce", "show", "nce_gone"), io)).toBe(1);
    expect(io.err()).toBe('error: nonce_not_found: no nonce with id "nce_gone"\n');
  });

  it("an unreachable server is `unavailable`", async () => {
    const io = fakeIo({ env: { ...env, AGENT_NONCE_URL: "http://127.0.0.1:1" } });
    expect(await run(argv("nonce", "show", "nce_1"), io)).toBe(1);
    expect(io.err()).toMatch(/^error: unavailable: cannot reach http:\/\/127\.0\.0\.1:1/);
    expect(io.err()).not.toContain(API_KEY);
  });

  it("usage errors exit 2: missing API key, missing required option, unknown command", async () => {
    const noKey = fakeIo({ env: { AGENT_NONCE_URL: env.AGENT_NONCE_URL as string } });
    expect(await run(argv("nonce", "show", "nce_1"), noKey)).toBe(2);
    expect(noKey.err()).toMatch(/AGENT_NONCE_API_KEY/);
    const missing = fakeIo({ env });
    expect(await run(argv("nonce", "create", "--service", "stripe", "--scope", "x"), missing)).toBe(2);
    expect(missing.err()).toMatch(/^error: invalid_request: required option '--agent <agent>' not specified/);
    expect(await run(argv("frobnicate"), fakeIo({ env }))).toBe(2);
    expect(await run(argv("nonce"), fakeIo({ env }))).toBe(2);
    expect(seen).toEqual([]);
  });

  it("--help and --version exit 0 and print to stdout", async () => {
    const io = fakeIo();
    expect(await run(argv("--help"), io)).toBe(0);
    expect(io.out()).toContain("credential");
    expect(io.out()).toContain("AGENT_NONCE_API_KEY");
    const v = fakeIo();
    expect(await run(argv("--version"), v)).toBe(0);
    expect(v.out()).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});
