import type { IamCheck } from "./grants.js";

/**
 * A signed AWS request → the IAM actions (and resources) AWS would authorise it as. Three protocols:
 * JSON (`X-Amz-Target: DynamoDB_20120810.GetItem` → `dynamodb:GetItem`), query (`Action=GetCallerIdentity` in the
 * form body or query string → `sts:GetCallerIdentity`) and REST (S3 method + path + subresource, Bedrock runtime
 * paths). Anything it cannot map is refused by the caller: deny by default.
 */

export interface AwsRequestFacts {
  /** Signing name from the credential scope: `s3`, `dynamodb`, `sts`, `sqs`, `bedrock`, … */
  service: string;
  region: string;
  /** Account of the assumed role (from its ARN), for resource ARNs. */
  account: string;
  partition: string;
  method: string;
  /** Canonical path segments (percent-encoded form). */
  segments: readonly string[];
  trailingSlash: boolean;
  /** Decoded query parameters. */
  query: ReadonlyMap<string, string[]>;
  headers: { target?: string | undefined; contentType?: string | undefined; copySource?: string | undefined };
  /** The request body when it was read (JSON and query protocols, S3 multi-object delete), else null. */
  body: Buffer | null;
}

export type IamMapping = { checks: IamCheck[] } | { error: string };

/** Whether the body must be read to map this request (it then is, up to the gateway's body cap). */
export function needsBody(service: string, method: string, query: ReadonlyMap<string, string[]>): boolean {
  if (service === "s3") return method === "POST" && query.has("delete");
  return method === "POST";
}

export function iamChecksOf(f: AwsRequestFacts): IamMapping {
  if (f.service === "s3") return s3Checks(f);
  if (f.headers.target !== undefined) return jsonChecks(f);
  if (f.service === "bedrock") return bedrockChecks(f);
  return queryChecks(f);
}

function decodeSegment(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

// Query keys that select an S3 sub-resource, and the IAM action for each method.
const S3_BUCKET_SUB: Record<string, Partial<Record<string, string>>> = {
  location: { GET: "GetBucketLocation" },
  versions: { GET: "ListBucketVersions" },
  uploads: { GET: "ListBucketMultipartUploads" },
  acl: { GET: "GetBucketAcl", PUT: "PutBucketAcl" },
  policy: { GET: "GetBucketPolicy", PUT: "PutBucketPolicy", DELETE: "DeleteBucketPolicy" },
  tagging: { GET: "GetBucketTagging", PUT: "PutBucketTagging", DELETE: "PutBucketTagging" },
  cors: { GET: "GetBucketCORS", PUT: "PutBucketCORS", DELETE: "PutBucketCORS" },
  versioning: { GET: "GetBucketVersioning", PUT: "PutBucketVersioning" },
  lifecycle: {
    GET: "GetLifecycleConfiguration",
    PUT: "PutLifecycleConfiguration",
    DELETE: "PutLifecycleConfiguration",
  },
  encryption: { GET: "GetEncryptionConfiguration", PUT: "PutEncryptionConfiguration" },
  notification: { GET: "GetBucketNotification", PUT: "PutBucketNotification" },
  website: { GET: "GetBucketWebsite", PUT: "PutBucketWebsite", DELETE: "DeleteBucketWebsite" },
  delete: { POST: "DeleteObject" },
};
const S3_OBJECT_SUB: Record<string, Partial<Record<string, string>>> = {
  tagging: { GET: "GetObjectTagging", PUT: "PutObjectTagging", DELETE: "DeleteObjectTagging" },
  acl: { GET: "GetObjectAcl", PUT: "PutObjectAcl" },
  attributes: { GET: "GetObjectAttributes" },
  uploads: { POST: "PutObject" },
  uploadId: { GET: "ListMultipartUploadParts", PUT: "PutObject", POST: "PutObject", DELETE: "AbortMultipartUpload" },
  restore: { POST: "RestoreObject" },
};
// Query keys that only parameterise an operation (never select one).
const S3_PLAIN = new Set([
  "x-id",
  "list-type",
  "prefix",
  "delimiter",
  "max-keys",
  "continuation-token",
  "start-after",
  "fetch-owner",
  "encoding-type",
  "marker",
  "versionId",
  "partNumber",
  "response-content-type",
  "response-content-disposition",
  "response-content-encoding",
  "response-content-language",
  "response-cache-control",
  "response-expires",
  "max-parts",
  "part-number-marker",
  "key-marker",
  "version-id-marker",
  "upload-id-marker",
  "max-uploads",
  "expected-bucket-owner",
]);

function s3Checks(f: AwsRequestFacts): IamMapping {
  const method = f.method === "HEAD" ? "GET" : f.method;
  const arn = `arn:${f.partition}:s3:::`;
  if (f.segments.length === 0) {
    return method === "GET" ? { checks: [{ action: "s3:ListAllMyBuckets", resource: null }] } : unmapped();
  }
  const parts = f.segments.map(decodeSegment);
  if (parts.some((p) => p === null)) return { error: "undecodable path" };
  const [bucket, ...keyParts] = parts as string[];
  const isObject = keyParts.length > 0;
  let sub: string | null = null;
  for (const k of f.query.keys()) {
    if (S3_PLAIN.has(k)) continue;
    const table = isObject ? S3_OBJECT_SUB : S3_BUCKET_SUB;
    if (!Object.hasOwn(table, k)) return unmapped();
    // uploadId with uploads or two selectors at once: not an operation S3 defines.
    if (sub !== null) return unmapped();
    sub = k;
  }
  if (!isObject) {
    const resource = `${arn}${bucket}`;
    if (sub === null) {
      const action = ({ GET: "ListBucket", PUT: "CreateBucket", DELETE: "DeleteBucket" } as Record<string, string>)[
        method
      ];
      return action ? { checks: [{ action: `s3:${action}`, resource }] } : unmapped();
    }
    const action = S3_BUCKET_SUB[sub]?.[method];
    if (!action) return unmapped();
    if (sub === "delete") return deleteObjectsChecks(f, `${arn}${bucket}/`);
    return { checks: [{ action: `s3:${action}`, resource }] };
  }
  const key = `${keyParts.join("/")}${f.trailingSlash ? "/" : ""}`;
  const resource = `${arn}${bucket}/${key}`;
  let action: string | undefined;
  if (sub === null) {
    action = ({ GET: "GetObject", PUT: "PutObject", DELETE: "DeleteObject" } as Record<string, string>)[method];
    if (action && f.query.has("versionId") && method !== "PUT") action = `${action}Version`;
  } else action = S3_OBJECT_SUB[sub]?.[method];
  if (!action) return unmapped();
  const checks: IamCheck[] = [{ action: `s3:${action}`, resource }];
  // CopyObject / UploadPartCopy also read the source object.
  if (method === "PUT" && f.headers.copySource !== undefined) {
    const src = copySourceArn(f.headers.copySource, arn);
    if (src === null) return { error: "unreadable x-amz-copy-source" };
    checks.push({ action: "s3:GetObject", resource: src });
  }
  return { checks };
}

function copySourceArn(value: string, arn: string): string | null {
  const noVersion = value.split("?")[0] ?? "";
  const decoded = decodeSegment(noVersion.replace(/^\//, ""));
  if (!decoded?.includes("/")) return null;
  return `${arn}${decoded}`;
}

/** DeleteObjects: one s3:DeleteObject per `<Key>` in the XML body. */
function deleteObjectsChecks(f: AwsRequestFacts, prefix: string): IamMapping {
  if (!f.body) return { error: "multi-object delete without a body" };
  const xml = f.body.toString("utf8");
  const keys = [...xml.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => xmlUnescape(m[1] ?? ""));
  if (keys.length === 0) return { error: "multi-object delete names no key" };
  return { checks: keys.map((k) => ({ action: "s3:DeleteObject", resource: `${prefix}${k}` })) };
}

function xmlUnescape(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (_m, e: string) => {
    const named: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };
    if (named[e]) return named[e] as string;
    return String.fromCodePoint(e.startsWith("#x") ? Number.parseInt(e.slice(2), 16) : Number(e.slice(1)));
  });
}

function unmapped(): IamMapping {
  return { error: "this request does not map to a known IAM action" };
}

const JSON_TARGET = /^([A-Za-z0-9_]+)\.([A-Za-z0-9]+)$/;

function jsonChecks(f: AwsRequestFacts): IamMapping {
  const m = JSON_TARGET.exec(f.headers.target ?? "");
  if (!m || f.method !== "POST") return unmapped();
  const op = m[2] as string;
  const action = `${f.service}:${op}`;
  let body: Record<string, unknown> = {};
  if (f.body && f.body.length > 0) {
    try {
      const parsed: unknown = JSON.parse(f.body.toString("utf8"));
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed))
        return { error: "JSON body is not an object" };
      body = parsed as Record<string, unknown>;
    } catch {
      return { error: "unreadable JSON body" };
    }
  }
  const resources = jsonResources(f, body);
  if (resources.length === 0) return { checks: [{ action, resource: null }] };
  return { checks: resources.map((resource) => ({ action, resource })) };
}

function jsonResources(f: AwsRequestFacts, body: Record<string, unknown>): string[] {
  const base = `arn:${f.partition}:${f.service}:${f.region}:${f.account}`;
  if (f.service === "dynamodb") {
    const tables = new Set<string>();
    const add = (v: unknown) => {
      if (typeof v !== "string") return;
      tables.add(v.startsWith("arn:") ? v : `${base}:table/${v}`);
    };
    add(body.TableName);
    add(body.TableArn);
    add(body.ResourceArn);
    const items = body.RequestItems;
    if (items && typeof items === "object") for (const t of Object.keys(items)) add(t);
    for (const list of [body.TransactItems]) {
      if (!Array.isArray(list)) continue;
      for (const item of list) {
        if (!item || typeof item !== "object") continue;
        for (const op of Object.values(item as Record<string, unknown>)) {
          if (op && typeof op === "object") add((op as Record<string, unknown>).TableName);
        }
      }
    }
    return [...tables];
  }
  if (f.service === "sqs") {
    const q = queueArn(body.QueueUrl, f) ?? (typeof body.QueueName === "string" ? `${base}:${body.QueueName}` : null);
    return q ? [q] : [];
  }
  return [];
}

function queueArn(url: unknown, f: AwsRequestFacts): string | null {
  if (typeof url !== "string") return null;
  try {
    const parts = new URL(url).pathname.split("/").filter((p) => p.length > 0);
    if (parts.length !== 2) return null;
    return `arn:${f.partition}:sqs:${f.region}:${parts[0]}:${parts[1]}`;
  } catch {
    return null;
  }
}

function queryChecks(f: AwsRequestFacts): IamMapping {
  let params: ReadonlyMap<string, string[]> = f.query;
  if (f.method === "POST") {
    const type = (f.headers.contentType ?? "").split(";")[0]?.trim().toLowerCase();
    if (type !== "application/x-www-form-urlencoded" || !f.body) return unmapped();
    const form = new Map<string, string[]>();
    for (const [k, v] of new URLSearchParams(f.body.toString("utf8"))) form.set(k, [...(form.get(k) ?? []), v]);
    // An Action in both the query string and the body: which one the service reads is not ours to guess.
    if (f.query.has("Action")) return { error: "Action given twice" };
    params = form;
  }
  const actions = params.get("Action");
  if (actions?.length !== 1 || !/^[A-Za-z0-9]{1,128}$/.test(actions[0] as string)) return unmapped();
  const action = `${f.service}:${actions[0]}`;
  const one = (k: string) => {
    const v = params.get(k);
    return v && v.length === 1 ? (v[0] as string) : null;
  };
  let resource: string | null = null;
  if (f.service === "sqs") {
    const name = one("QueueName");
    resource =
      queueArn(one("QueueUrl"), f) ?? (name ? `arn:${f.partition}:sqs:${f.region}:${f.account}:${name}` : null);
  } else if (f.service === "sts" && actions[0] === "AssumeRole") resource = one("RoleArn");
  return { checks: [{ action, resource }] };
}

const BEDROCK_OPS: Record<string, string> = {
  invoke: "InvokeModel",
  converse: "InvokeModel",
  "invoke-with-response-stream": "InvokeModelWithResponseStream",
  "converse-stream": "InvokeModelWithResponseStream",
};

function bedrockChecks(f: AwsRequestFacts): IamMapping {
  const [first, model, op] = f.segments;
  if (f.method !== "POST" || f.segments.length !== 3 || first !== "model" || !op || !model) return unmapped();
  const action = BEDROCK_OPS[op];
  const id = decodeSegment(model);
  if (!action || !id) return unmapped();
  const resource = id.startsWith("arn:") ? id : `arn:${f.partition}:bedrock:${f.region}::foundation-model/${id}`;
  return { checks: [{ action: `bedrock:${action}`, resource }] };
}
