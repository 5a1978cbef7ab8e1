#!/usr/bin/env node
import { randomBytes } from "node:crypto";
/**
 * AWS (aws_sigv4) per-request costs in process, with tinybench: verifying an agent's SigV4 signature (the
 * gateway's own verifyAgentSignature over an S3 GetObject as the AWS SDK v3 signs it), re-signing for the
 * upstream with an STS session (resign), the IAM action mapping, and mint latency (one STS AssumeRole over
 * loopback HTTP to a fake STS, signed with the base identity, XML parsed). Not a test: figures only.
 *
 *   npm run build && node scripts/bench/aws-sigv4.mjs [--time=2000]
 */
import http from "node:http";
import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";
import { Bench } from "tinybench";
import { iamChecksOf } from "../../dist/core/aws/actions.js";
import { denied, grantOf } from "../../dist/core/aws/grants.js";
import { parseAuthorization, queryForSigner, resign, verifyAgentSignature } from "../../dist/gateway/aws/sigv4.js";
import { createStsClient } from "../../dist/gateway/aws/sts.js";

const time = Number(process.argv.find((a) => a.startsWith("--time="))?.split("=")[1] ?? 2000);
const secret = randomBytes(32).toString("base64url");
const akid = "nce_01JH0000000000000000000000";
const now = new Date();

// What the S3 client sends for GetObject (headers from a capture of @aws-sdk/client-s3 3.x).
const agentSigner = new SignatureV4({
  credentials: { accessKeyId: akid, secretAccessKey: secret },
  region: "eu-west-1",
  service: "s3",
  sha256: Sha256,
  uriEscapePath: false,
});
const base = {
  method: "GET",
  protocol: "http:",
  hostname: "127.0.0.1",
  port: 7071,
  path: "/reports/a/b%20c.txt",
  query: { "x-id": "GetObject" },
  headers: {
    host: "127.0.0.1:7071",
    "x-amz-checksum-mode": "ENABLED",
    "x-amz-user-agent": "aws-sdk-js/3.1177.0",
    "amz-sdk-invocation-id": "048e7670-db65-4c6d-9865-4ecd5619efe2",
    "amz-sdk-request": "attempt=1; max=3",
    "x-amz-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  },
};
const signed = await agentSigner.sign(structuredClone(base), { signingDate: now });
const auth = parseAuthorization(signed.headers.authorization);
const candidates = [{ accessKeyId: akid, secretAccessKey: secret }];
const verifyReq = {
  method: "GET",
  hostname: "gateway",
  path: base.path,
  query: queryForSigner("x-id=GetObject"),
  headers: Object.fromEntries(auth.signedHeaders.map((h) => [h, signed.headers[h]])),
  body: null,
};
if (!(await verifyAgentSignature(verifyReq, auth, candidates, now))) throw new Error("verification failed");
const session = {
  accessKeyId: "ASIAFAKE",
  secretAccessKey: randomBytes(30).toString("base64"),
  sessionToken: randomBytes(300).toString("base64"),
};
const upstream = {
  method: "GET",
  hostname: "s3.eu-west-1.amazonaws.com",
  path: base.path,
  query: verifyReq.query,
  headers: { ...base.headers, host: "s3.eu-west-1.amazonaws.com", accept: "*/*" },
  body: null,
};
const grant = grantOf(["s3:GetObject", "s3:ListBucket", "arn:aws:s3:::reports/*"]);
const facts = {
  service: "s3",
  region: "eu-west-1",
  account: "123456789012",
  partition: "aws",
  method: "GET",
  segments: ["reports", "a", "b%20c.txt"],
  trailingSlash: false,
  query: new Map([["x-id", ["GetObject"]]]),
  headers: {},
  body: null,
};

// A fake STS on loopback for mint latency.
const sts = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "text/xml" });
    res.end(
      `<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIAFAKE${randomBytes(6).toString("hex")}</AccessKeyId><SecretAccessKey>${randomBytes(30).toString("base64")}</SecretAccessKey><SessionToken>${randomBytes(300).toString("base64")}</SessionToken><Expiration>${new Date(Date.now() + 900_000).toISOString()}</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>`,
    );
  });
});
await new Promise((r) => sts.listen(0, "127.0.0.1", r));
const client = createStsClient({ headersTimeoutMs: 5000, bodyTimeoutMs: 5000, connectTimeoutMs: 5000 });
const stsOrigin = `http://127.0.0.1:${sts.address().port}`;
const mint = () =>
  client.assumeRole({
    origin: stsOrigin,
    insecure: true,
    region: "eu-west-1",
    base: { accessKeyId: "AKIAFAKE0000", secretAccessKey: "fake" },
    roleArn: "arn:aws:iam::123456789012:role/agent",
    roleSessionName: "bench.task",
    policy: JSON.stringify({
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Action: ["s3:GetObject"], Resource: "*" }],
    }),
    durationSeconds: 900,
    now: Date.now(),
  });

/** CPU time per operation (user+system), less distorted than wall time on a shared, overloaded machine. */
async function cpuPerOp(fn, n) {
  for (let i = 0; i < Math.min(200, n); i++) await fn();
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) await fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}

const bench = new Bench({ time, warmupTime: 300 });
bench
  .add("verify agent SigV4 (S3 GetObject)", () => verifyAgentSignature(verifyReq, auth, candidates, now))
  .add("re-sign with STS session", () => resign(upstream, session, "eu-west-1", "s3", now))
  .add("IAM mapping + grant check", () => denied(grant, iamChecksOf(facts).checks))
  .add("mint: STS AssumeRole over loopback", mint);
await bench.run();
const cpu = {
  "verify agent SigV4 (S3 GetObject)": await cpuPerOp(
    () => verifyAgentSignature(verifyReq, auth, candidates, now),
    5000,
  ),
  "re-sign with STS session": await cpuPerOp(() => resign(upstream, session, "eu-west-1", "s3", now), 5000),
  "IAM mapping + grant check": await cpuPerOp(() => denied(grant, iamChecksOf(facts).checks), 50000),
  "mint: STS AssumeRole over loopback": await cpuPerOp(mint, 200),
};
console.log(
  `load average ${(await import("node:os"))
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(" ")}`,
);
console.table(
  bench.tasks.map((t) => ({
    task: t.name,
    "cpu µs/op": cpu[t.name].toFixed(1),
    "mean µs": (t.result.mean * 1000).toFixed(1),
    "p99 µs": (t.result.p99 * 1000).toFixed(1),
    samples: t.result.samples.length,
  })),
);
await client.close();
sts.close();
