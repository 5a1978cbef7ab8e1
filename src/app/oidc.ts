import {
  createRemoteJWKSet,
  customFetch,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  jwtVerify,
} from "jose";
import { AppError } from "../core/errors.js";
import { globMatch } from "../core/glob.js";
import type { ApiKeyRecord, TrustRecord } from "../core/types.js";
import type { TrustStore } from "../store/store.js";
import type { AppContext } from "./context.js";
import { checkIssuerUrl } from "./issuer-url.js";

/**
 * OIDC workload identity (DESIGN.md "Orchestrator identity"): an orchestrator presents its own JWT as the bearer
 * token. The token's `iss` selects the trust relationships of that issuer; each is tried in name order and the
 * first whose checks all pass decides the caller: signature against the issuer's JWKS (asymmetric algorithms
 * only), `iss` exact, `aud`, `exp`/`nbf` with 60 s tolerance, subject and claim globs. The caller is an
 * ApiKeyRecord synthesised from the trust (id `oidc:<trust>:<sub>`), so roles, policies and "own nonces only"
 * apply unchanged. Failures are 401 `unauthenticated` naming the check that failed, never echoing the token.
 */
export const OIDC_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519",
];
const CLOCK_TOLERANCE_S = 60;
const MAX_TOKEN = 16 * 1024;
const MAX_SUB = 1024;
const FETCH_TIMEOUT_MS = 5000;
/** Discovery documents and JWKS are small; a larger answer is refused rather than buffered (SECURITY.md rule 8). */
const MAX_DOC_BYTES = 256 * 1024;
/** A failed discovery is remembered this long, so tokens naming a broken issuer cannot make us fetch per request. */
const FAILURE_BACKOFF_MS = 5000;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Three base64url parts: a JWT, never an `ank_` key (whose shape has no dots). */
export function looksLikeJwt(token: string): boolean {
  return token.length <= MAX_TOKEN && JWT_SHAPE.test(token);
}

export interface OidcOptions {
  /** jose's pause between JWKS fetches when a `kid` is unknown (default 30 s; tests set 0 to rotate keys). */
  jwksCooldownMs?: number;
  /** How long the trust list is reused before it is read again (default 1 s, like the API-key cache). */
  trustTtlMs?: number;
}

type Jwks = ReturnType<typeof createRemoteJWKSet>;

/** How far a trust got before it failed: the answer names the furthest failure, the most useful to the caller. */
interface Failure {
  depth: number;
  message: string;
}

function unauthenticated(message: string): AppError {
  return new AppError("unauthenticated", `OIDC token refused: ${message}`);
}

export class OidcVerifier {
  private readonly jwks = new Map<string, { version: string; jwks: Promise<Jwks>; failedAt?: number }>();
  private trusts: { at: number; list: Promise<TrustRecord[]> } | null = null;

  constructor(
    private readonly ctx: AppContext<TrustStore>,
    private readonly opts: OidcOptions = {},
  ) {
    const drop = () => {
      this.trusts = null;
    };
    // Another replica's trust change arrives as trust.changed (LISTEN/NOTIFY); a reconnect may have missed some.
    ctx.events.on("trust.changed", drop);
    ctx.events.on("replica.resync", drop);
  }

  async authenticate(token: string): Promise<ApiKeyRecord> {
    let alg: unknown;
    let claims: JWTPayload;
    try {
      alg = decodeProtectedHeader(token).alg;
      claims = decodeJwt(token);
    } catch {
      throw unauthenticated("malformed JWT");
    }
    if (typeof alg !== "string" || !OIDC_ALGORITHMS.includes(alg)) {
      throw unauthenticated("algorithm not accepted (asymmetric algorithms only: RS*, PS*, ES*, EdDSA)");
    }
    const trusts =
      typeof claims.iss === "string" ? (await this.trustList()).filter((t) => t.issuer === claims.iss) : [];
    if (trusts.length === 0) throw unauthenticated("issuer unknown (no trust relationship for this issuer)");
    let worst: Failure = { depth: -1, message: "no trust relationship matched" };
    for (const trust of trusts) {
      const r = await this.tryTrust(trust, token);
      if ("key" in r) return r.key;
      if (r.depth > worst.depth) worst = r;
    }
    throw unauthenticated(worst.message);
  }

  private async tryTrust(trust: TrustRecord, token: string): Promise<{ key: ApiKeyRecord } | Failure> {
    let payload: JWTPayload;
    try {
      const jwks = await this.jwksFor(trust);
      ({ payload } = await jwtVerify(token, jwks, {
        issuer: trust.issuer,
        audience: trust.audience,
        algorithms: OIDC_ALGORITHMS,
        clockTolerance: CLOCK_TOLERANCE_S,
        currentDate: new Date(this.ctx.clock.now()),
        requiredClaims: ["exp", "sub"],
      }));
    } catch (e) {
      return failureOf(e);
    }
    const sub = payload.sub as string;
    if (sub.length === 0 || sub.length > MAX_SUB) return { depth: 4, message: "sub claim is empty or too long" };
    if (trust.subject !== null && !globMatch(trust.subject, sub)) {
      return { depth: 4, message: "subject does not match the trust relationship" };
    }
    for (const [name, glob] of Object.entries(trust.claims ?? {})) {
      const v = payload[name];
      if (typeof v !== "string" || !globMatch(glob, v)) {
        return { depth: 5, message: `claim ${name} does not match the trust relationship` };
      }
    }
    return {
      key: {
        id: `oidc:${trust.name}:${sub}`,
        name: trust.name,
        role: trust.role,
        policy: trust.policy,
        keyHash: Buffer.alloc(0),
        createdBy: null,
        createdAt: trust.createdAt,
        revokedAt: null,
      },
    };
  }

  private trustList(): Promise<TrustRecord[]> {
    const now = performance.now();
    const ttl = this.opts.trustTtlMs ?? 1000;
    if (!this.trusts || now - this.trusts.at >= ttl) {
      const list = this.ctx.store.listTrusts();
      this.trusts = { at: now, list };
      // A failed read is not cached.
      list.catch(() => {
        if (this.trusts?.list === list) this.trusts = null;
      });
    }
    return this.trusts.list;
  }

  /** One remote JWKS per trust (jose caches the keys and refetches on an unknown `kid`), rebuilt when the trust
   * changes. A failed discovery is retried after FAILURE_BACKOFF_MS. */
  private jwksFor(trust: TrustRecord): Promise<Jwks> {
    const version = `${trust.updatedAt}|${trust.issuer}|${trust.jwksUri}|${trust.insecureIssuer}`;
    const hit = this.jwks.get(trust.name);
    if (
      hit &&
      hit.version === version &&
      (hit.failedAt === undefined || performance.now() - hit.failedAt < FAILURE_BACKOFF_MS)
    ) {
      return hit.jwks;
    }
    const entry: { version: string; jwks: Promise<Jwks>; failedAt?: number } = { version, jwks: this.build(trust) };
    this.jwks.set(trust.name, entry);
    entry.jwks.catch(() => {
      entry.failedAt = performance.now();
    });
    return entry.jwks;
  }

  private async build(trust: TrustRecord): Promise<Jwks> {
    const uri = trust.jwksUri ?? (await discoverJwksUri(trust));
    const url = checkJwksUrl(uri, trust.insecureIssuer);
    return createRemoteJWKSet(url, {
      timeoutDuration: FETCH_TIMEOUT_MS,
      cooldownDuration: this.opts.jwksCooldownMs ?? 30_000,
      [customFetch]: async (u, o) => {
        const res = await boundedFetch(u, { ...o, redirect: "error" });
        return new Response(res.body, { status: res.status, headers: { "content-type": "application/json" } });
      },
    });
  }
}

function checkJwksUrl(uri: string, insecure: boolean): URL {
  try {
    return checkIssuerUrl(uri, "jwks_uri", insecure);
  } catch {
    throw new JwksUnavailable("the issuer's jwks_uri is not an allowed address");
  }
}

class JwksUnavailable extends Error {}

/** `<issuer>/.well-known/openid-configuration`; its `issuer` must be the trust's issuer exactly (OIDC Discovery
 * §4.3), redirects are refused (the address was checked, where a redirect would lead was not). */
async function discoverJwksUri(trust: TrustRecord): Promise<string> {
  const url = `${trust.issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
  let doc: { issuer?: unknown; jwks_uri?: unknown };
  try {
    const res = await boundedFetch(url, { redirect: "error", signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    if (res.status !== 200) throw new Error(`status ${res.status}`);
    doc = JSON.parse(res.body) as typeof doc;
  } catch {
    throw new JwksUnavailable("the issuer's openid-configuration could not be fetched");
  }
  if (doc.issuer !== trust.issuer) throw new JwksUnavailable("the issuer's openid-configuration names another issuer");
  if (typeof doc.jwks_uri !== "string") throw new JwksUnavailable("the issuer's openid-configuration has no jwks_uri");
  return doc.jwks_uri;
}

/** fetch with redirects refused by the caller's init and the body read up to MAX_DOC_BYTES. */
async function boundedFetch(url: string, init: RequestInit): Promise<{ status: number; body: string }> {
  const res = await fetch(url, init);
  const declared = Number(res.headers.get("content-length") ?? "0");
  if (declared > MAX_DOC_BYTES) throw new Error("document too large");
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (res.body) {
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      size += chunk.length;
      if (size > MAX_DOC_BYTES) throw new Error("document too large");
      chunks.push(chunk);
    }
  }
  return { status: res.status, body: Buffer.concat(chunks).toString("utf8") };
}

function failureOf(e: unknown): Failure {
  if (e instanceof JwksUnavailable) return { depth: 0, message: e.message };
  if (e instanceof errors.JOSEAlgNotAllowed) return { depth: 1, message: "algorithm not accepted" };
  if (e instanceof errors.JWKSNoMatchingKey) {
    return { depth: 1, message: "signature: no key in the issuer's JWKS matches the token" };
  }
  if (e instanceof errors.JWSSignatureVerificationFailed) return { depth: 1, message: "signature verification failed" };
  if (e instanceof errors.JWTExpired) return { depth: 2, message: "token expired" };
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.claim === "aud") return { depth: 3, message: "audience does not match the trust relationship" };
    if (e.claim === "nbf") return { depth: 2, message: "token not yet valid (nbf)" };
    if (e.claim === "iat") return { depth: 2, message: "token issued in the future (iat)" };
    if (e.claim === "iss") return { depth: 0, message: "issuer does not match" };
    return { depth: 2, message: `claim ${e.claim} is missing or invalid` };
  }
  if (e instanceof errors.JWKSTimeout || e instanceof errors.JWKSInvalid) {
    return { depth: 0, message: "the issuer's JWKS could not be fetched" };
  }
  if (e instanceof errors.JOSEError) return { depth: 1, message: "token could not be verified" };
  // fetch failures (connection refused, redirect refused) surface as TypeError from the JWKS fetch.
  return { depth: 0, message: "the issuer's JWKS could not be fetched" };
}

const verifiers = new WeakMap<AppContext<TrustStore>, OidcVerifier>();

/** One verifier per application context (its JWKS caches live as long as the process). */
export function oidcVerifierFor(ctx: AppContext<TrustStore>, opts?: OidcOptions): OidcVerifier {
  let v = verifiers.get(ctx);
  if (!v) {
    v = new OidcVerifier(ctx, opts);
    verifiers.set(ctx, v);
  }
  return v;
}
