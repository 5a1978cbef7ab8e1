import { randomBytes } from "node:crypto";
import { Agent } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { DynamoDBClient, GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiApp } from "../../api/app.js";
import { newId } from "../../core/ids.js";
import { generateToken, hashToken } from "../../core/tokens.js";
import type { AuditType } from "../../core/types.js";
import { type TestContext, testContext } from "../../test/context.js";
import { type FakeAws, startFakeAws } from "../../test/fake-aws.js";
import { dialects } from "../../test/stores.js";
import { WINDOW_MS } from "../dead-nonce-log.js";
import { REDACTION_MARKER } from "../scrub.js";
import { createGatewayServer, type GatewayServer } from "../server.js";

/**
 * AWS through the gateway, end to end on real sockets: the official AWS SDK v3 clients configured with nothing
 * but the issuance answer's endpoint, region and key pair; fake STS, S3 and DynamoDB endpoints on loopback that
 * verify every SigV4 signature they receive and decode aws-chunked uploads. Both store dialects.
 *
 * Tripwires (tripwires.ts, docs/security.md): a canary key pair is tripped by every presentation whose signature
 * verifies and is never forwarded; a dead key pair gets its own 401 before any scope or region answer, repeats
 * are answered from memory and coalesced in the audit log, and one from a new address is `nonce.replayed`.
 */

const ROLE = "arn:aws:iam::123456789012:role/agent";

// biome-ignore lint/suspicious/noExplicitAny: SDK errors carry $metadata/$response
const statusOf = (e: any): number | undefined => e?.$metadata?.httpStatusCode;
// biome-ignore lint/suspicious/noExplicitAny: SDK errors carry $metadata/$response
const codeOf = (e: any): string | undefined => e?.$response?.headers?.["x-agent-nonce-error"];

describe.each(dialects)("aws_sigv4 through the gateway ($name)", (d) => {
  let ctx: TestContext;
  let gateway: GatewayServer;
  let endpoint: string;
  let fake: FakeAws;
  let adminKey: string;
  let app: ReturnType<typeof createApiApp>;
  const transcript: string[] = [];

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await app.request(path, {
      method,
      headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    transcript.push(text);
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };

  const issue = async (scope: string[], extra: Record<string, unknown> = {}) => {
    const r = await call("POST", "/v1/nonces", {
      service: "aws",
      scope,
      agent: "etl bot",
      task: "nightly/42",
      ttl: "10m",
      ...extra,
    });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body as {
      id: string;
      nonce: string;
      aws: { access_key_id: string; secret_access_key: string; region: string; endpoint: string };
    };
  };

  /** `from`: the local address the clients connect from (the gateway's view of the agent's source address). */
  const clients = (aws: { access_key_id: string; secret_access_key: string; region: string }, from?: string) => {
    const credentials = { accessKeyId: aws.access_key_id, secretAccessKey: aws.secret_access_key };
    const common = {
      endpoint,
      region: aws.region,
      credentials,
      maxAttempts: 1,
      ...(from ? { requestHandler: { httpAgent: new Agent({ localAddress: from }) } } : {}),
    };
    return {
      s3: new S3Client({ ...common, forcePathStyle: true }),
      ddb: new DynamoDBClient(common),
      sts: new STSClient(common),
    };
  };

  beforeAll(async () => {
    ctx = await testContext({ store: await d.create() });
    // The SDK signs with the wall clock; the gateway's clock starts there and is moved by hand.
    ctx.clock.set(Date.now());
    app = createApiApp(ctx);
    adminKey = generateToken("ank");
    await ctx.store.insertApiKey(
      {
        id: newId("key", ctx.clock.now()),
        name: "root",
        role: "admin",
        policy: null,
        keyHash: hashToken(adminKey),
        createdBy: null,
        createdAt: ctx.clock.now(),
        revokedAt: null,
      },
      null,
    );
    gateway = createGatewayServer(ctx);
    await new Promise<void>((r) => gateway.server.listen(0, "127.0.0.1", r));
    endpoint = `http://127.0.0.1:${(gateway.server.address() as AddressInfo).port}`;
    fake = await startFakeAws();
    const put = await call("PUT", "/v1/services/aws", {
      template: "aws",
      aws: { role_arn: ROLE, region: "eu-west-1", external_id: "ext-7" },
      endpoints: { sts: fake.sts, s3: fake.s3, dynamodb: fake.dynamodb },
      insecure_upstream: true,
    });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(put.body.aws).toEqual({ role_arn: ROLE, region: "eu-west-1", external_id: "ext-7" });
    const cred = await call("PUT", "/v1/services/aws/credential", {
      access_key_id: fake.base.accessKeyId,
      secret_access_key: fake.base.secretAccessKey,
    });
    expect(cred.status).toBe(200);
  }, 30_000);

  afterAll(async () => {
    await gateway?.close();
    await fake?.close();
    await ctx?.store.close();
    await ctx?.close();
  });

  it("S3, DynamoDB and STS SDK clients work unchanged; one AssumeRole whose policy is exactly the scopes", async () => {
    const n = await issue(["s3:read", "s3:write", "dynamodb:read", "dynamodb:write", "sts:identity"]);
    expect(n.aws.access_key_id).toBe(n.id);
    expect(n.aws.region).toBe("eu-west-1");
    const { s3, ddb, sts } = clients(n.aws);
    const before = fake.assumeRoles.length;

    await s3.send(new PutObjectCommand({ Bucket: "reports", Key: "a/b c.txt", Body: "hello" }));
    const big = randomBytes(1024 * 1024);
    // A stream of unknown framing: the SDK sends it aws-chunked, STREAMING-UNSIGNED-PAYLOAD-TRAILER, CRC32 trailer.
    await s3.send(
      new PutObjectCommand({
        Bucket: "reports",
        Key: "big.bin",
        Body: Readable.from([big.subarray(0, 300_000), big.subarray(300_000)]),
        ContentLength: big.length,
      }),
    );
    expect(fake.objects.get("reports/big.bin")?.equals(big)).toBe(true);
    const got = await s3.send(new GetObjectCommand({ Bucket: "reports", Key: "a/b c.txt" }));
    expect(await got.Body?.transformToString()).toBe("hello");
    const list = await s3.send(new ListObjectsV2Command({ Bucket: "reports" }));
    expect(list.Contents?.map((c) => c.Key).sort()).toEqual(["a/b c.txt", "big.bin"]);

    await ddb.send(new PutItemCommand({ TableName: "jobs", Item: { id: { S: "1" }, state: { S: "done" } } }));
    const item = await ddb.send(new GetItemCommand({ TableName: "jobs", Key: { id: { S: "1" } } }));
    expect(item.Item?.state).toEqual({ S: "done" });
    const who = await sts.send(new GetCallerIdentityCommand({}));
    expect(who.Account).toBe("123456789012");

    // Eight requests, one session.
    expect(fake.assumeRoles.length - before).toBe(1);
    const ar = fake.assumeRoles.at(-1) as Record<string, string>;
    expect(JSON.parse(ar.Policy as string)).toEqual({
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Allow",
          Action: [
            "s3:GetObject",
            "s3:ListBucket",
            "s3:PutObject",
            "s3:AbortMultipartUpload",
            "s3:ListMultipartUploadParts",
            "dynamodb:GetItem",
            "dynamodb:BatchGetItem",
            "dynamodb:Query",
            "dynamodb:Scan",
            "dynamodb:DescribeTable",
            "dynamodb:ConditionCheckItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:BatchWriteItem",
            "sts:GetCallerIdentity",
          ],
          Resource: "*",
        },
      ],
    });
    expect(ar).toMatchObject({
      RoleArn: ROLE,
      RoleSessionName: "etl-bot.nightly-42",
      ExternalId: "ext-7",
      DurationSeconds: "900",
    });

    const minted = await ctx.store.listAudit({ nonceId: n.id, type: "credential.minted" }, { limit: 10 });
    expect(minted.items).toHaveLength(1);
    expect(minted.items[0]?.data).toMatchObject({ kind: "aws_sigv4", fingerprint: expect.stringMatching(/^sha256:/) });
  }, 30_000);

  it("refuses a wrong signature (401 nonce_invalid) and a date outside ±15 min, sending nothing upstream", async () => {
    const n = await issue(["s3:read"]);
    const seen = { ...fake.received };
    const wrong = clients({ ...n.aws, secret_access_key: `${n.aws.secret_access_key.slice(0, -2)}AA` });
    const e1 = await wrong.s3.send(new GetObjectCommand({ Bucket: "reports", Key: "a/b c.txt" })).catch((e) => e);
    expect(statusOf(e1)).toBe(401);
    expect(codeOf(e1)).toBe("nonce_invalid");
    ctx.clock.advance(16 * 60_000);
    try {
      const ok = clients(n.aws);
      const e2 = await ok.s3.send(new GetObjectCommand({ Bucket: "reports", Key: "a/b c.txt" })).catch((e) => e);
      expect(statusOf(e2)).toBe(401);
    } finally {
      ctx.clock.set(Date.now());
    }
    expect(fake.received).toEqual(seen);
  }, 30_000);

  it("refuses an action outside the scopes with 403 scope_denied before anything is sent", async () => {
    const n = await issue(["s3:read"]);
    const { s3, ddb } = clients(n.aws);
    const seen = { ...fake.received };
    const stsBefore = fake.assumeRoles.length;
    const e1 = await s3.send(new PutObjectCommand({ Bucket: "reports", Key: "x", Body: "no" })).catch((e) => e);
    expect(statusOf(e1)).toBe(403);
    expect(codeOf(e1)).toBe("scope_denied");
    const e2 = await ddb.send(new GetItemCommand({ TableName: "jobs", Key: { id: { S: "1" } } })).catch((e) => e);
    expect(statusOf(e2)).toBe(403);
    // The an_ token itself, presented as a bearer, matches no route: the AWS root is never injected.
    const bearer = await fetch(`${endpoint}/reports/a`, { headers: { authorization: `Bearer ${n.nonce}` } });
    expect(bearer.status).toBe(403);
    expect(fake.received).toEqual(seen);
    expect(fake.assumeRoles.length).toBe(stsBefore);
    const rejected = await ctx.store.listAudit({ nonceId: n.id, type: "nonce.rejected" }, { limit: 10 });
    expect(rejected.items.map((e) => e.data?.action ?? "(bearer)").sort()).toEqual([
      "(bearer)",
      "dynamodb:GetItem",
      "s3:PutObject",
    ]);
  }, 30_000);

  it("narrows to resources: the gateway and the session policy agree", async () => {
    const n = await issue(["s3:read"], { aws: { resources: ["arn:aws:s3:::reports/a/*"] } });
    const { s3 } = clients(n.aws);
    const got = await s3.send(new GetObjectCommand({ Bucket: "reports", Key: "a/b c.txt" }));
    expect(await got.Body?.transformToString()).toBe("hello");
    const other = await s3.send(new GetObjectCommand({ Bucket: "reports", Key: "big.bin" })).catch((e) => e);
    expect(statusOf(other)).toBe(403);
    // ListBucket's resource is the bucket itself, which reports/a/* does not cover (as in IAM).
    const list = await s3.send(new ListObjectsV2Command({ Bucket: "reports" })).catch((e) => e);
    expect(statusOf(list)).toBe(403);
    const policy = JSON.parse(fake.assumeRoles.at(-1)?.Policy as string);
    expect(policy.Statement[0].Resource).toEqual(["arn:aws:s3:::reports/a/*"]);
    expect(policy.Statement[0].Action).toEqual(["s3:GetObject", "s3:ListBucket"]);
  }, 30_000);

  it("scrubs the session credentials from AWS's answers; no STS secret in any response or audit event", async () => {
    const n = await issue(["s3:read"]);
    const { s3 } = clients(n.aws);
    const e = await s3.send(new GetObjectCommand({ Bucket: "reports", Key: "echo" })).catch((x) => x);
    expect(statusOf(e)).toBe(400);
    const session = fake.sessions.at(-1);
    if (!session) throw new Error("no session");
    const message = String(e.message ?? "");
    expect(message).toContain(REDACTION_MARKER);
    expect(message).not.toContain(session.sessionToken);

    const events = await ctx.store.scanAudit(0, 10_000);
    const everything = JSON.stringify(events) + transcript.join("\n");
    for (const s of fake.sessions) {
      for (const v of [s.secretAccessKey, s.sessionToken, s.accessKeyId]) expect(everything).not.toContain(v);
    }
    expect(everything).not.toContain(fake.base.secretAccessKey);
    // The nonce's own AWS secret appears only in the issuance answers, never in audit.
    expect(JSON.stringify(events)).not.toContain(n.aws.secret_access_key);
  }, 30_000);

  it("destroys the session when the nonce is revoked; the key pair is dead at once", async () => {
    const n = await issue(["s3:read"]);
    const { s3 } = clients(n.aws);
    await s3.send(new GetObjectCommand({ Bucket: "reports", Key: "a/b c.txt" }));
    expect((await call("DELETE", `/v1/nonces/${n.id}`)).status).toBe(204);
    const e = await s3.send(new GetObjectCommand({ Bucket: "reports", Key: "a/b c.txt" })).catch((x) => x);
    expect(statusOf(e)).toBe(401);
    expect(codeOf(e)).toBe("nonce_revoked");
    const destroyed = await ctx.store.listAudit({ nonceId: n.id, type: "credential.destroyed" }, { limit: 10 });
    expect(destroyed.items).toHaveLength(1);
  }, 30_000);
  it("an STS that refuses the base identity gives 502 credential_unavailable, and nothing reaches S3", async () => {
    const put = await call("PUT", "/v1/services/aws-denied", {
      template: "aws",
      aws: { role_arn: ROLE, region: "eu-west-1" },
      endpoints: { sts: fake.sts, s3: fake.s3 },
      insecure_upstream: true,
    });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    // A base secret STS does not know: its signature check fails and it answers AWS's error.
    const cred = await call("PUT", "/v1/services/aws-denied/credential", {
      access_key_id: fake.base.accessKeyId,
      secret_access_key: `FAKE${"x".repeat(36)}`,
    });
    expect(cred.status).toBe(200);
    const n = await issue(["s3:read"], { service: "aws-denied" });
    const before = { ...fake.received };
    const e = await clients(n.aws)
      .s3.send(new GetObjectCommand({ Bucket: "reports", Key: "a/b c.txt" }))
      .catch((x) => x);
    expect(statusOf(e)).toBe(502);
    expect(codeOf(e)).toBe("credential_unavailable");
    expect(fake.received.s3).toBe(before.s3);
    expect(fake.received.sts).toBe(before.sts + 1);
  }, 30_000);

  const deleteObjects = new DeleteObjectsCommand({ Bucket: "reports", Delete: { Objects: [{ Key: "a/b c.txt" }] } });
  /** An S3 client that swaps the body after signing: the signed x-amz-content-sha256 no longer covers it. */
  const tampering = (aws: { access_key_id: string; secret_access_key: string; region: string }) => {
    const { s3 } = clients(aws);
    const tamper =
      <A extends { request: unknown }, R>(next: (args: A) => Promise<R>) =>
      async (args: A) => {
        const req = args.request as { body?: unknown };
        if (typeof req.body === "string") req.body = "X".repeat(req.body.length);
        return next(args);
      };
    s3.middlewareStack.addRelativeTo(tamper, {
      relation: "after",
      toMiddleware: "httpSigningMiddleware",
      name: "tamperAfterSigning",
    });
    return s3;
  };

  const events = async (type: AuditType, nonceId: string) =>
    (await ctx.store.listAudit({ nonceId, type }, { limit: 100 })).items.sort((a, b) => a.time - b.time);
  const counter = async (c: {
    get(): Promise<{ values: Array<{ labels: Record<string, unknown>; value: number }> }>;
  }) => (await c.get()).values.reduce((n, v) => n + v.value, 0);

  it("a canary key pair is tripped by every signed presentation, refused 401 nonce_invalid, never forwarded", async () => {
    fake.objects.set("reports/canary.txt", Buffer.from("bait"));
    const n = await issue(["s3:read"], { canary: true });
    const { s3 } = clients(n.aws);
    const otherRegion = clients({ ...n.aws, region: "us-east-1" });
    const wrong = clients({ ...n.aws, secret_access_key: `${n.aws.secret_access_key.slice(0, -2)}AA` });
    const seen = { ...fake.received };
    const stsBefore = fake.assumeRoles.length;
    const tripped0 = await counter(ctx.metrics.canaryTripped);

    const presentations: Array<[string, () => Promise<unknown>]> = [
      // A body its signed hash does not cover (read: DeleteObjects' keys are in it): signed by the holder all the same.
      ["/reports/", () => tampering(n.aws).send(deleteObjects)],
      ["/reports/canary.txt", () => s3.send(new GetObjectCommand({ Bucket: "reports", Key: "canary.txt" }))], // in scope
      ["/reports/x", () => s3.send(new PutObjectCommand({ Bucket: "reports", Key: "x", Body: "no" }))], // out of scope
      [
        "/reports/canary.txt",
        () => otherRegion.s3.send(new GetObjectCommand({ Bucket: "reports", Key: "canary.txt" })),
      ],
    ];
    for (const [, send] of presentations) {
      const e = await send().catch((x) => x);
      expect(statusOf(e)).toBe(401);
      expect(codeOf(e)).toBe("nonce_invalid");
    }
    // Revoked, it is still a canary: tripped, and answered as a nonce that does not exist (not nonce_revoked).
    expect((await call("DELETE", `/v1/nonces/${n.id}`)).status).toBe(204);
    const dead = await s3.send(new GetObjectCommand({ Bucket: "reports", Key: "canary.txt" })).catch((x) => x);
    expect(statusOf(dead)).toBe(401);
    expect(codeOf(dead)).toBe("nonce_invalid");
    // Its id without its secret proves nothing: refused, not tripped (docs/security.md "Tripwires").
    const forged = await wrong.s3.send(new GetObjectCommand({ Bucket: "reports", Key: "canary.txt" })).catch((x) => x);
    expect(statusOf(forged)).toBe(401);
    expect(codeOf(forged)).toBe("nonce_invalid");

    expect(fake.received).toEqual(seen);
    expect(fake.assumeRoles.length).toBe(stsBefore);
    const tripped = await events("nonce.canary_tripped", n.id);
    expect(tripped.map((e) => e.request?.path)).toEqual([...presentations.map(([p]) => p), "/reports/canary.txt"]);
    for (const e of tripped) {
      expect(e).toMatchObject({ reason: "canary", sourceIp: "127.0.0.1", request: { status: 401 } });
    }
    expect(await counter(ctx.metrics.canaryTripped)).toBe(tripped0 + 5);
    expect(await events("nonce.used", n.id)).toEqual([]);
    const rejected = await events("nonce.rejected", n.id);
    expect(rejected.map((e) => [e.reason, e.data?.why])).toEqual([["nonce_invalid", "signature"]]);
  }, 30_000);

  it("a revoked key pair: its own 401 every time, even out of scope; coalesced; nonce.replayed from a new address", async () => {
    fake.objects.set("reports/dead.txt", Buffer.from("x"));
    const n = await issue(["s3:read"]);
    const { s3 } = clients(n.aws);
    const get = () => s3.send(new GetObjectCommand({ Bucket: "reports", Key: "dead.txt" })).catch((x) => x);
    expect(
      await (await s3.send(new GetObjectCommand({ Bucket: "reports", Key: "dead.txt" }))).Body?.transformToString(),
    ).toBe("x");
    expect((await call("DELETE", `/v1/nonces/${n.id}`)).status).toBe(204);
    const seen = { ...fake.received };
    const consume = ctx.store.consumeNonce.bind(ctx.store);
    let consumes = 0;
    ctx.store.consumeNonce = (...args) => {
      consumes++;
      return consume(...args);
    };
    const newAddress0 = await counter(ctx.metrics.deadNonceNewAddress);
    try {
      const N = 6;
      for (let i = 0; i < N; i++) {
        const e = await get();
        expect(statusOf(e)).toBe(401);
        expect(codeOf(e)).toBe("nonce_revoked");
      }
      // Out of scope, or in another region: the dead nonce's 401, never the scope's 403 (rule 14).
      const put = await s3.send(new PutObjectCommand({ Bucket: "reports", Key: "y", Body: "no" })).catch((x) => x);
      const region = await clients({ ...n.aws, region: "us-east-1" })
        .s3.send(new GetObjectCommand({ Bucket: "reports", Key: "dead.txt" }))
        .catch((x) => x);
      for (const e of [put, region]) {
        expect(statusOf(e)).toBe(401);
        expect(codeOf(e)).toBe("nonce_revoked");
      }
      // At most the first presentation reached the store's consume; the rest were answered from memory.
      expect(consumes).toBeLessThanOrEqual(1);
      const once = await events("nonce.rejected", n.id);
      expect(once).toHaveLength(1);
      expect(once[0]).toMatchObject({
        reason: "nonce_revoked",
        request: { path: "/reports/dead.txt" },
        data: { count: 1 },
      });
      expect(await events("nonce.replayed", n.id)).toEqual([]);

      // From an address the nonce was never used from: nonce.replayed, once per new address.
      const other = clients(n.aws, "127.0.0.2");
      for (let i = 0; i < 2; i++) {
        const e = await other.s3.send(new GetObjectCommand({ Bucket: "reports", Key: "dead.txt" })).catch((x) => x);
        expect(statusOf(e)).toBe(401);
        expect(codeOf(e)).toBe("nonce_revoked");
      }
      const replayed = await events("nonce.replayed", n.id);
      expect(replayed).toHaveLength(1);
      expect(replayed[0]).toMatchObject({
        sourceIp: "127.0.0.2",
        reason: "nonce_revoked",
        data: { new_address: true },
      });
      expect(await counter(ctx.metrics.deadNonceNewAddress)).toBe(newAddress0 + 1);

      // The window closes on the gateway's tick: one event carries every repeat.
      ctx.clock.advance(WINDOW_MS);
      await expect.poll(async () => (await events("nonce.rejected", n.id)).length, { timeout: 5_000 }).toBe(2);
      expect((await events("nonce.rejected", n.id))[1]).toMatchObject({
        reason: "nonce_revoked",
        data: { count: N - 1 + 2 + 2, first_at: new Date(once[0]?.time ?? 0).toISOString() },
      });
      expect(fake.received).toEqual(seen);
    } finally {
      ctx.store.consumeNonce = consume;
      ctx.clock.set(Date.now());
    }
  }, 30_000);

  it("a wrong signature for a real nonce id, repeated: every one 401, one nonce.rejected per window with its count", async () => {
    // The access key id is the nonce id, which is not secret: naming it with a wrong signature must not write one
    // hash-chained audit row per request (docs/security.md, "Tripwires"). Coalesced like a dead nonce's repeats.
    const n = await issue(["s3:read"]);
    const wrong = clients({ ...n.aws, secret_access_key: `${n.aws.secret_access_key.slice(0, -2)}AA` });
    const seen = { ...fake.received };
    const append = ctx.store.appendAudit.bind(ctx.store);
    let writes = 0;
    ctx.store.appendAudit = (drafts, ...rest) => {
      if (drafts.some((e) => e.nonceId === n.id)) writes++;
      return append(drafts, ...rest);
    };
    const outcome = async () =>
      (await ctx.metrics.gatewayRequests.get()).values.find(
        (v) => v.labels.service === "aws" && v.labels.outcome === "nonce_invalid",
      )?.value ?? 0;
    const refused0 = await outcome();
    try {
      const N = 8;
      for (let i = 0; i < N; i++) {
        const e = await wrong.s3.send(new GetObjectCommand({ Bucket: "reports", Key: `k${i}` })).catch((x) => x);
        expect(statusOf(e)).toBe(401);
        expect(codeOf(e)).toBe("nonce_invalid");
      }
      expect(await outcome()).toBe(refused0 + N); // the metric counts every refusal
      // The first is written before its answer; the repeats are only counted.
      const once = await events("nonce.rejected", n.id);
      expect(once).toHaveLength(1);
      expect(once[0]).toMatchObject({
        reason: "nonce_invalid",
        request: { path: "/reports/k0" },
        data: { why: "signature", count: 1 },
      });
      expect(writes).toBe(1);

      // The window closes on the gateway's tick: one event carries every repeat.
      ctx.clock.advance(WINDOW_MS);
      await expect.poll(async () => (await events("nonce.rejected", n.id)).length, { timeout: 5_000 }).toBe(2);
      expect((await events("nonce.rejected", n.id))[1]).toMatchObject({
        reason: "nonce_invalid",
        request: { path: `/reports/k${N - 1}` },
        data: { why: "signature", count: N - 1, first_at: expect.any(String), last_at: expect.any(String) },
      });
      expect(writes).toBe(2);
      expect(fake.received).toEqual(seen);
      expect(await events("nonce.used", n.id)).toEqual([]);
    } finally {
      ctx.store.appendAudit = append;
      ctx.clock.set(Date.now());
    }
  }, 30_000);

  it("a body its signed hash does not cover: 401 nonce_invalid (payload_hash) once the signature verifies", async () => {
    const n = await issue(["s3:read"]);
    const seen = { ...fake.received };
    for (let i = 0; i < 3; i++) {
      const e = await tampering(n.aws)
        .send(deleteObjects)
        .catch((x) => x);
      expect(statusOf(e)).toBe(401);
      expect(codeOf(e)).toBe("nonce_invalid");
    }
    expect(fake.received).toEqual(seen);
    // Coalesced like a wrong signature's (a captured signature and any body): the first now, the repeats counted.
    const rejected = await events("nonce.rejected", n.id);
    expect(rejected.map((r) => [r.reason, r.data?.why, r.data?.count])).toEqual([["nonce_invalid", "payload_hash", 1]]);
  }, 30_000);
});
