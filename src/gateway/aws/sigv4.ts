import { createHash, createHmac } from "node:crypto";
import { SignatureV4 } from "@smithy/signature-v4";
import type { AwsCredentialIdentity, HttpRequest, SourceData } from "@smithy/types";
import { signaturesEqual } from "../../core/aws/nonce-credentials.js";

/**
 * SigV4 with @smithy/signature-v4 (the signer the AWS SDK itself uses), never a hand-written canonicalisation:
 * `verifyAgentSignature` recomputes the agent's signature over exactly the headers it signed and compares in
 * constant time; `resign` signs the upstream request with the STS session. The hash is node:crypto's SHA-256
 * behind smithy's Checksum interface (what @smithy/hash-node does for the SDK on Node); @aws-crypto/sha256-js
 * gives the same digests in pure JS and is what the tests' fake AWS endpoints use, so the two are cross-checked.
 */

export class NodeSha256 {
  private readonly h: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  constructor(secret?: SourceData) {
    this.h = secret === undefined ? createHash("sha256") : createHmac("sha256", bytes(secret));
  }
  update(data: SourceData): void {
    this.h.update(bytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(this.h.digest());
  }
  reset(): void {}
}

function bytes(d: SourceData): string | Buffer {
  if (typeof d === "string") return d;
  if (ArrayBuffer.isView(d)) return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  return Buffer.from(d);
}

export interface SigV4Authorization {
  accessKeyId: string;
  /** YYYYMMDD from the credential scope. */
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

const AUTH =
  /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([a-z0-9-]{1,32})\/([a-z0-9-]{1,32})\/aws4_request, ?SignedHeaders=([a-z0-9;-]{1,2048}), ?Signature=([0-9a-f]{64})$/;

export function isSigV4(authorization: string | undefined): boolean {
  return authorization?.startsWith("AWS4-HMAC-SHA256 ") === true;
}

export function parseAuthorization(value: string): SigV4Authorization | null {
  const m = AUTH.exec(value);
  if (!m) return null;
  const signedHeaders = (m[5] as string).split(";");
  // Sorted, unique, and host always signed: what every SigV4 signer produces.
  for (let i = 1; i < signedHeaders.length; i++) {
    if ((signedHeaders[i - 1] as string) >= (signedHeaders[i] as string)) return null;
  }
  if (!signedHeaders.includes("host") || !signedHeaders.includes("x-amz-date")) return null;
  return {
    accessKeyId: m[1] as string,
    date: m[2] as string,
    region: m[3] as string,
    service: m[4] as string,
    signedHeaders,
    signature: m[6] as string,
  };
}

/** `20261204T174902Z` → ms, or NaN. */
export function parseAmzDate(s: string | undefined): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s ?? "");
  if (!m) return Number.NaN;
  return Date.UTC(
    +(m[1] as string),
    +(m[2] as string) - 1,
    +(m[3] as string),
    +(m[4] as string),
    +(m[5] as string),
    +(m[6] as string),
  );
}

/** Decoded query for the signer (`uploads` without `=` is `""`, as the SDK builds it); null on bad escapes. */
export function queryForSigner(query: string): Record<string, string | string[]> | null {
  const out: Record<string, string | string[]> = Object.create(null);
  if (query.length === 0) return out;
  for (const part of query.split("&")) {
    if (part.length === 0) continue;
    const eq = part.indexOf("=");
    let k: string;
    let v: string;
    try {
      k = decodeURIComponent(eq === -1 ? part : part.slice(0, eq));
      v = eq === -1 ? "" : decodeURIComponent(part.slice(eq + 1));
    } catch {
      return null;
    }
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

export interface SignableRequest {
  method: string;
  hostname: string;
  port?: number | undefined;
  path: string;
  query: Record<string, string | string[]>;
  headers: Record<string, string>;
  body: Buffer | null;
}

function httpRequest(r: SignableRequest, protocol: string): HttpRequest {
  return {
    method: r.method,
    protocol,
    hostname: r.hostname,
    ...(r.port === undefined ? {} : { port: r.port }),
    path: r.path,
    query: r.query,
    headers: r.headers,
    body: r.body ?? undefined,
  };
}

// One signer per credentials object (and path-escaping mode), kept only as long as that object lives: building
// a SignatureV4 per request cost ~40% of a signature. Region and service are passed per call.
const signers = new WeakMap<AwsCredentialIdentity, { s3?: SignatureV4; other?: SignatureV4 }>();

function signer(credentials: AwsCredentialIdentity, region: string, service: string): SignatureV4 {
  let entry = signers.get(credentials);
  if (!entry) {
    entry = {};
    signers.set(credentials, entry);
  }
  const kind = service === "s3" ? "s3" : "other";
  // S3 signs the path as sent (already URI-encoded once); every other service double-encodes it.
  entry[kind] ??= new SignatureV4({
    credentials,
    region,
    service,
    sha256: NodeSha256,
    uriEscapePath: kind === "other",
  });
  return entry[kind];
}

/**
 * True when `auth.signature` is the SigV4 signature of `req` (restricted to the signed headers) under one of
 * one of `candidates` (stable objects: signers are cached per object). `req.headers` must hold exactly the headers named in `auth.signedHeaders`, with `x-amz-date`.
 */
export async function verifyAgentSignature(
  req: SignableRequest,
  auth: SigV4Authorization,
  candidates: readonly AwsCredentialIdentity[],
  signingDate: Date,
): Promise<boolean> {
  const signable = new Set(auth.signedHeaders);
  let ok = false;
  for (const c of candidates) {
    if (c.accessKeyId !== auth.accessKeyId) continue;
    const s = signer(c, auth.region, auth.service);
    const signed = await s.sign(httpRequest(req, "http:"), {
      signingDate,
      signableHeaders: signable,
      signingRegion: auth.region,
      signingService: auth.service,
    });
    const header = String(signed.headers.authorization ?? "");
    const m = /SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(header);
    // Every name the agent signed must have been present and signed here too, and the signature must match.
    if (m && m[1] === auth.signedHeaders.join(";") && signaturesEqual(m[2] as string, auth.signature)) ok = true;
  }
  return ok;
}

export interface SessionCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}

/** Signs the upstream request with the STS session; returns the headers the signer set (authorization, …). */
export async function resign(
  req: SignableRequest,
  session: SessionCredentials,
  region: string,
  service: string,
  signingDate: Date,
): Promise<Record<string, string>> {
  const signed = await signer(session, region, service).sign(httpRequest(req, "https:"), {
    signingDate,
    signingRegion: region,
    signingService: service,
  });
  return signed.headers as Record<string, string>;
}

export function sha256Hex(body: Buffer): string {
  return createHash("sha256").update(body).digest("hex");
}
