import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { getTemplate, listTemplates } from "../../templates/index.js";
import type { MasterKeys } from "../crypto.js";
import { type AwsRequestFacts, iamChecksOf } from "./actions.js";
import {
  denied,
  grantOf,
  resolveAwsScopes,
  roleSessionName,
  sessionDurationSeconds,
  sessionPolicy,
  validateAwsCatalog,
  wildcardMatch,
} from "./grants.js";
import { awsNonceSecret, awsNonceSecretCandidates } from "./nonce-credentials.js";

const facts = (over: Partial<AwsRequestFacts>): AwsRequestFacts => ({
  service: "s3",
  region: "eu-west-1",
  account: "123456789012",
  partition: "aws",
  method: "GET",
  segments: [],
  trailingSlash: false,
  query: new Map(),
  headers: {},
  body: null,
  ...over,
});

describe("IAM action mapping", () => {
  it.each([
    ["GET", ["reports", "a", "b%20c.txt"], {}, "s3:GetObject", "arn:aws:s3:::reports/a/b c.txt"],
    ["HEAD", ["reports", "x"], {}, "s3:GetObject", "arn:aws:s3:::reports/x"],
    ["PUT", ["reports", "x"], { "x-id": ["PutObject"] }, "s3:PutObject", "arn:aws:s3:::reports/x"],
    ["DELETE", ["reports", "x"], {}, "s3:DeleteObject", "arn:aws:s3:::reports/x"],
    ["GET", ["reports"], { "list-type": ["2"] }, "s3:ListBucket", "arn:aws:s3:::reports"],
    ["GET", ["reports"], { location: [""] }, "s3:GetBucketLocation", "arn:aws:s3:::reports"],
    ["PUT", ["reports", "x"], { tagging: [""] }, "s3:PutObjectTagging", "arn:aws:s3:::reports/x"],
    ["POST", ["reports", "x"], { uploads: [""] }, "s3:PutObject", "arn:aws:s3:::reports/x"],
    ["DELETE", ["reports", "x"], { uploadId: ["u"] }, "s3:AbortMultipartUpload", "arn:aws:s3:::reports/x"],
  ] as const)("S3 %s %j %j → %s", (method, segments, query, action, resource) => {
    const q = new Map(Object.entries(query).map(([k, v]) => [k, [...v]]));
    expect(iamChecksOf(facts({ method, segments: [...segments], query: q }))).toEqual({
      checks: [{ action, resource }],
    });
  });

  it("S3: CopyObject also reads the source; an unknown sub-resource is unmapped (deny by default)", () => {
    const copy = iamChecksOf(facts({ method: "PUT", segments: ["dst", "k"], headers: { copySource: "/src/a%2Fb" } }));
    expect(copy).toEqual({
      checks: [
        { action: "s3:PutObject", resource: "arn:aws:s3:::dst/k" },
        { action: "s3:GetObject", resource: "arn:aws:s3:::src/a/b" },
      ],
    });
    expect(iamChecksOf(facts({ segments: ["b"], query: new Map([["replication", [""]]]) }))).toHaveProperty("error");
    expect(iamChecksOf(facts({ method: "POST", segments: ["b"] }))).toHaveProperty("error");
  });

  it("S3 multi-object delete checks every key", () => {
    const body = Buffer.from("<Delete><Object><Key>a/1</Key></Object><Object><Key>b&amp;2</Key></Object></Delete>");
    const m = iamChecksOf(facts({ method: "POST", segments: ["bk"], query: new Map([["delete", [""]]]), body }));
    expect(m).toEqual({
      checks: [
        { action: "s3:DeleteObject", resource: "arn:aws:s3:::bk/a/1" },
        { action: "s3:DeleteObject", resource: "arn:aws:s3:::bk/b&2" },
      ],
    });
  });

  it("JSON protocol: X-Amz-Target and the tables in the body", () => {
    const body = Buffer.from(JSON.stringify({ RequestItems: { a: {}, b: {} } }));
    const m = iamChecksOf(
      facts({ service: "dynamodb", method: "POST", headers: { target: "DynamoDB_20120810.BatchGetItem" }, body }),
    );
    expect(m).toEqual({
      checks: [
        { action: "dynamodb:BatchGetItem", resource: "arn:aws:dynamodb:eu-west-1:123456789012:table/a" },
        { action: "dynamodb:BatchGetItem", resource: "arn:aws:dynamodb:eu-west-1:123456789012:table/b" },
      ],
    });
    const sqs = iamChecksOf(
      facts({
        service: "sqs",
        method: "POST",
        headers: { target: "AmazonSQS.SendMessage" },
        body: Buffer.from(JSON.stringify({ QueueUrl: "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs" })),
      }),
    );
    expect(sqs).toEqual({
      checks: [{ action: "sqs:SendMessage", resource: "arn:aws:sqs:eu-west-1:123456789012:jobs" }],
    });
  });

  it("query protocol: Action= in the form body; two Actions are refused", () => {
    const form = { contentType: "application/x-www-form-urlencoded" };
    const ok = iamChecksOf(
      facts({
        service: "sts",
        method: "POST",
        headers: form,
        body: Buffer.from("Action=GetCallerIdentity&Version=2011-06-15"),
      }),
    );
    expect(ok).toEqual({ checks: [{ action: "sts:GetCallerIdentity", resource: null }] });
    const twice = iamChecksOf(
      facts({
        service: "sts",
        method: "POST",
        headers: form,
        body: Buffer.from("Action=GetCallerIdentity&Action=AssumeRole"),
      }),
    );
    expect(twice).toHaveProperty("error");
  });

  it("Bedrock runtime paths", () => {
    const m = iamChecksOf(
      facts({ service: "bedrock", method: "POST", segments: ["model", "anthropic.claude-v2", "converse"] }),
    );
    expect(m).toEqual({
      checks: [
        { action: "bedrock:InvokeModel", resource: "arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-v2" },
      ],
    });
  });
});

describe("grants and session policies", () => {
  const catalog = getTemplate("aws")?.scopes ?? {};

  it("the aws template's catalog is valid and listed", () => {
    expect(listTemplates().map((t) => t.name)).toContain("aws");
    expect(() => validateAwsCatalog(catalog)).not.toThrow();
    expect(catalog["s3:read"]).toEqual(["s3:GetObject", "s3:ListBucket"]);
  });

  it("catalog names expand; raw actions need allowRaw; resources are ARNs", () => {
    expect(resolveAwsScopes(catalog, ["s3:read"], false, undefined)).toEqual(["s3:GetObject", "s3:ListBucket"]);
    expect(() => resolveAwsScopes(catalog, ["iam:PassRole"], false, undefined)).toThrow(/raw IAM/);
    expect(resolveAwsScopes(catalog, ["iam:PassRole"], true, undefined)).toEqual(["iam:PassRole"]);
    expect(() => resolveAwsScopes(catalog, ["nope"], true, undefined)).toThrow(/unknown scope/);
    expect(() => resolveAwsScopes(catalog, ["s3:read"], false, ["reports/*"])).toThrow(/not an ARN/);
    const routes = resolveAwsScopes(catalog, ["s3:read"], false, ["arn:aws:s3:::reports/*"]);
    expect(JSON.parse(sessionPolicy(grantOf(routes)))).toEqual({
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Action: ["s3:GetObject", "s3:ListBucket"], Resource: ["arn:aws:s3:::reports/*"] }],
    });
  });

  it("a grant too big for AWS's 2048-character session policy is refused at issuance", () => {
    const many = Array.from({ length: 20 }, (_, i) => `arn:aws:s3:::bucket-${i}/${"k".repeat(80)}/*`);
    expect(() => resolveAwsScopes(catalog, ["s3:read"], false, many)).toThrow(/2048/);
  });

  it("checks actions case-insensitively with IAM wildcards, resources exactly", () => {
    const g = grantOf(["s3:Get*", "arn:aws:s3:::reports/*"]);
    expect(denied(g, [{ action: "s3:getobject", resource: "arn:aws:s3:::reports/a" }])).toBeNull();
    expect(denied(g, [{ action: "s3:PutObject", resource: "arn:aws:s3:::reports/a" }])).not.toBeNull();
    expect(denied(g, [{ action: "s3:GetObject", resource: "arn:aws:s3:::Reports/a" }])).not.toBeNull();
    expect(denied(g, [{ action: "s3:GetObject", resource: null }])).not.toBeNull();
    expect(wildcardMatch("a?c*", "abcdef")).toBe(true);
    expect(wildcardMatch("a*b*c", "a".repeat(5000))).toBe(false);
  });

  it("RoleSessionName and DurationSeconds follow AWS's limits", () => {
    expect(roleSessionName("etl bot", "nightly/42")).toBe("etl-bot.nightly-42");
    expect(roleSessionName("x".repeat(100), null)).toHaveLength(64);
    expect(roleSessionName("a", null)).toBe("an-a");
    expect(sessionDurationSeconds(1_000 + 60_000, 1_000)).toBe(900);
    expect(sessionDurationSeconds(1_000 + 3_600_000, 1_000)).toBe(3600);
  });
});

describe("the nonce's AWS key pair", () => {
  const keys: MasterKeys = { current: 1, keys: new Map([[1, randomBytes(32)]]) };
  const tokenKey = randomBytes(38);

  it("is recomputable, bound to the nonce and the master key, and survives a key rotation", () => {
    const s = awsNonceSecret(keys, "nce_A", tokenKey);
    expect(awsNonceSecret(keys, "nce_A", tokenKey)).toBe(s);
    expect(awsNonceSecret(keys, "nce_B", tokenKey)).not.toBe(s);
    expect(awsNonceSecret(keys, "nce_A", randomBytes(38))).not.toBe(s);
    expect(awsNonceSecret({ current: 1, keys: new Map([[1, randomBytes(32)]]) }, "nce_A", tokenKey)).not.toBe(s);
    const rotated: MasterKeys = { current: 2, keys: new Map([...keys.keys, [2, randomBytes(32)]]) };
    expect(awsNonceSecretCandidates(rotated, "nce_A", tokenKey)).toContain(s);
  });
});
