import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { crc32 } from "node:zlib";
import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";

/**
 * Fake AWS endpoints on loopback that speak the wire format and VERIFY what they receive: STS (AssumeRole signed
 * by the base identity, GetCallerIdentity by a session), S3 (path style, objects in memory, aws-chunked bodies
 * with their CRC32 trailer checked) and DynamoDB (JSON 1.0). Signatures are recomputed with @smithy/signature-v4
 * and the pure-JS @aws-crypto/sha256-js (the gateway uses node:crypto, so the two are cross-checked).
 */

export interface FakeAws {
  sts: string;
  s3: string;
  dynamodb: string;
  base: { accessKeyId: string; secretAccessKey: string };
  /** Every AssumeRole call's parameters (the session policy among them). */
  assumeRoles: Array<Record<string, string>>;
  /** Requests each endpoint received (after verification or not). */
  received: { sts: number; s3: number; dynamodb: number };
  /** Session credentials handed out, to hunt for in responses, logs and audit. */
  sessions: Array<{ accessKeyId: string; secretAccessKey: string; sessionToken: string }>;
  objects: Map<string, Buffer>;
  items: Map<string, unknown>;
  close(): Promise<void>;
}

interface Parsed {
  accessKeyId: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

function parseAuth(v: string | undefined): Parsed | null {
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(
      v ?? "",
    );
  if (!m) return null;
  return {
    accessKeyId: m[1] as string,
    region: m[2] as string,
    service: m[3] as string,
    signedHeaders: (m[4] as string).split(";"),
    signature: m[5] as string,
  };
}

function amzDate(s: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return new Date(Number.NaN);
  return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
}

async function verify(
  req: http.IncomingMessage,
  body: Buffer,
  secretFor: (akid: string) => { secret: string; token?: string } | undefined,
): Promise<Parsed | null> {
  const a = parseAuth(req.headers.authorization);
  if (!a) return null;
  const cred = secretFor(a.accessKeyId);
  if (!cred) return null;
  if (cred.token !== undefined && req.headers["x-amz-security-token"] !== cred.token) return null;
  const headers: Record<string, string> = {};
  for (const h of a.signedHeaders) {
    const v = req.headers[h];
    if (v === undefined) return null;
    headers[h] = Array.isArray(v) ? v.join(",") : v;
  }
  const url = new URL(req.url ?? "/", "http://x");
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = v;
  const signer = new SignatureV4({
    credentials: { accessKeyId: a.accessKeyId, secretAccessKey: cred.secret },
    region: a.region,
    service: a.service,
    sha256: Sha256,
    uriEscapePath: a.service !== "s3",
  });
  const signed = await signer.sign(
    {
      method: req.method ?? "GET",
      protocol: "http:",
      hostname: "x",
      path: (req.url ?? "/").split("?")[0] as string,
      query,
      headers,
      body: headers["x-amz-content-sha256"] ? undefined : body,
    },
    { signingDate: amzDate(headers["x-amz-date"] ?? ""), signableHeaders: new Set(a.signedHeaders) },
  );
  const got = /Signature=([0-9a-f]{64})$/.exec(String(signed.headers.authorization))?.[1];
  return got === a.signature ? a : null;
}

/** aws-chunked (unsigned, with trailer) → payload; the CRC32 trailer must match. */
export function decodeAwsChunked(raw: Buffer): Buffer | null {
  const out: Buffer[] = [];
  let i = 0;
  for (;;) {
    const eol = raw.indexOf("\r\n", i);
    if (eol < 0) return null;
    const size = Number.parseInt(raw.subarray(i, eol).toString("latin1").split(";")[0] as string, 16);
    if (!Number.isFinite(size)) return null;
    i = eol + 2;
    if (size === 0) break;
    out.push(raw.subarray(i, i + size));
    i += size + 2;
  }
  const data = Buffer.concat(out);
  const trailer = raw.subarray(i).toString("latin1");
  const m = /x-amz-checksum-crc32:([A-Za-z0-9+/=]+)/.exec(trailer);
  if (m) {
    const want = Buffer.alloc(4);
    want.writeUInt32BE(crc32(data) >>> 0);
    if (want.toString("base64") !== m[1]) return null;
  }
  return data;
}

function xmlError(res: http.ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { "content-type": "application/xml" });
  res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`);
}

function collect(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

async function listen(handler: http.RequestListener): Promise<{ server: http.Server; url: string }> {
  const server = http.createServer((req, res) => {
    Promise.resolve(handler(req, res)).catch(() => {
      if (!res.headersSent) xmlError(res, 500, "InternalError", "fake failed");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

export async function startFakeAws(account = "123456789012"): Promise<FakeAws> {
  const base = {
    accessKeyId: `AKIAFAKE${randomBytes(6).toString("hex").toUpperCase()}`,
    secretAccessKey: `fake/${randomBytes(16).toString("base64")}`,
  };
  const sessions: FakeAws["sessions"] = [];
  const assumeRoles: FakeAws["assumeRoles"] = [];
  const received = { sts: 0, s3: 0, dynamodb: 0 };
  const objects = new Map<string, Buffer>();
  const items = new Map<string, unknown>();
  const sessionSecret = (akid: string) => {
    const s = sessions.find((x) => x.accessKeyId === akid);
    return s ? { secret: s.secretAccessKey, token: s.sessionToken } : undefined;
  };

  const sts = await listen(async (req, res) => {
    received.sts++;
    const body = await collect(req);
    const form = Object.fromEntries(new URLSearchParams(body.toString("utf8")));
    if (form.Action === "AssumeRole") {
      const ok = await verify(req, body, (k) =>
        k === base.accessKeyId ? { secret: base.secretAccessKey } : undefined,
      );
      if (!ok) return xmlError(res, 403, "SignatureDoesNotMatch", "bad base signature");
      assumeRoles.push(form);
      const s = {
        accessKeyId: `ASIAFAKE${randomBytes(6).toString("hex").toUpperCase()}`,
        secretAccessKey: `sess/${randomBytes(18).toString("base64")}`,
        sessionToken: `FwoFAKE${randomBytes(48).toString("base64")}`,
      };
      sessions.push(s);
      const exp = new Date(Date.now() + Number(form.DurationSeconds) * 1000).toISOString();
      res.writeHead(200, { "content-type": "text/xml" });
      return res.end(
        `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>${s.accessKeyId}</AccessKeyId><SecretAccessKey>${s.secretAccessKey}</SecretAccessKey><SessionToken>${s.sessionToken}</SessionToken><Expiration>${exp}</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::${account}:assumed-role/agent/${form.RoleSessionName}</Arn><AssumedRoleId>AROAFAKE:${form.RoleSessionName}</AssumedRoleId></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></AssumeRoleResponse>`,
      );
    }
    const ok = await verify(req, body, sessionSecret);
    if (!ok) return xmlError(res, 403, "SignatureDoesNotMatch", "bad session signature");
    if (form.Action !== "GetCallerIdentity") return xmlError(res, 400, "InvalidAction", "unsupported");
    res.writeHead(200, { "content-type": "text/xml" });
    res.end(
      `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:sts::${account}:assumed-role/agent/x</Arn><UserId>AROAFAKE:x</UserId><Account>${account}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>r2</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
    );
  });

  const s3 = await listen(async (req, res) => {
    received.s3++;
    const raw = await collect(req);
    const ok = await verify(req, raw, sessionSecret);
    if (!ok) return xmlError(res, 403, "SignatureDoesNotMatch", "bad session signature");
    const sha = String(req.headers["x-amz-content-sha256"] ?? "");
    let body = raw;
    if (sha === "STREAMING-UNSIGNED-PAYLOAD-TRAILER") {
      const decoded = decodeAwsChunked(raw);
      if (!decoded) return xmlError(res, 400, "InvalidChunkSizeError", "bad aws-chunked body");
      body = decoded;
    } else if (/^[0-9a-f]{64}$/.test(sha)) {
      const { createHash } = await import("node:crypto");
      if (createHash("sha256").update(raw).digest("hex") !== sha)
        return xmlError(res, 400, "XAmzContentSHA256Mismatch", "x");
    }
    const url = new URL(req.url ?? "/", "http://x");
    const [bucket, ...rest] = url.pathname.slice(1).split("/");
    const key = decodeURIComponent(rest.join("/"));
    if (key === "echo") {
      // A debug-style error that quotes the caller's credentials back (what the scrubber must catch).
      return xmlError(
        res,
        400,
        "Echo",
        `token=${req.headers["x-amz-security-token"]} auth=${req.headers.authorization}`,
      );
    }
    if (req.method === "PUT" && key) {
      objects.set(`${bucket}/${key}`, body);
      res.writeHead(200, { etag: '"e1"' });
      return res.end();
    }
    if (req.method === "GET" && key) {
      const o = objects.get(`${bucket}/${key}`);
      if (!o) return xmlError(res, 404, "NoSuchKey", "The specified key does not exist.");
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": o.length, etag: '"e1"' });
      return res.end(o);
    }
    if (req.method === "GET" && url.searchParams.get("list-type") === "2") {
      const keys = [...objects.keys()]
        .filter((k) => k.startsWith(`${bucket}/`))
        .map((k) => k.slice(bucket!.length + 1));
      res.writeHead(200, { "content-type": "application/xml" });
      return res.end(
        `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${bucket}</Name><Prefix></Prefix><KeyCount>${keys.length}</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>${keys.map((k) => `<Contents><Key>${k}</Key><Size>${objects.get(`${bucket}/${k}`)?.length}</Size><ETag>"e1"</ETag><StorageClass>STANDARD</StorageClass></Contents>`).join("")}</ListBucketResult>`,
      );
    }
    xmlError(res, 400, "NotImplemented", "fake S3 does not do that");
  });

  const dynamodb = await listen(async (req, res) => {
    received.dynamodb++;
    const body = await collect(req);
    const ok = await verify(req, body, sessionSecret);
    const send = (status: number, o: unknown) => {
      res.writeHead(status, { "content-type": "application/x-amz-json-1.0" });
      res.end(JSON.stringify(o));
    };
    if (!ok) return send(400, { __type: "com.amazon.coral.service#InvalidSignatureException", message: "bad" });
    const input = JSON.parse(body.toString("utf8")) as {
      TableName: string;
      Key?: unknown;
      Item?: Record<string, unknown>;
    };
    const op = String(req.headers["x-amz-target"]).split(".")[1];
    if (op === "PutItem") {
      items.set(`${input.TableName}/${JSON.stringify(input.Item?.id)}`, input.Item);
      return send(200, {});
    }
    if (op === "GetItem") {
      const item = items.get(`${input.TableName}/${JSON.stringify((input.Key as Record<string, unknown>).id)}`);
      return send(200, item ? { Item: item } : {});
    }
    send(400, { __type: "com.amazonaws.dynamodb.v20120810#UnknownOperationException" });
  });

  return {
    sts: sts.url,
    s3: s3.url,
    dynamodb: dynamodb.url,
    base,
    assumeRoles,
    received,
    sessions,
    objects,
    items,
    async close() {
      for (const s of [sts.server, s3.server, dynamodb.server]) {
        s.closeAllConnections();
        await new Promise<void>((r) => s.close(() => r()));
      }
    },
  };
}
