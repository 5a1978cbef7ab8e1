import type { ServiceAuth } from "../core/types.js";
import { GatewayReject } from "./errors.js";
import { buildNeedles } from "./scrub.js";

/**
 * Injects exactly one credential, per the service's auth type, into headers the client could no longer touch
 * (every client carrier was already stripped). The decrypted secret stays in Buffers until the header value is
 * built; the caller zeroes them afterwards. Returns the byte patterns the response scrubber must look for.
 * `prepareInjection` derives, once, what a request needs (kept by credential-cache.ts), `applyInjection` sets it.
 *
 * - bearer: `Authorization: Bearer <secret>`
 * - basic:  the sealed secret is UTF-8 JSON `{"username","password"}` → `Authorization: Basic base64(user:pass)`
 * - header: `<auth.name>: <auth.prefix ?? ""><secret>`
 * - query:  `<auth.name>=<percent-encoded secret>` appended to the query (the client's own copy was removed)
 */

export interface Injected {
  /** Query string to forward (without `?`), possibly with the credential appended. */
  query: string;
  needles: Buffer[];
}

// A secret that would need escaping to be a header value is refused rather than re-encoded.
const BAD_HEADER_BYTES = /[\u0000-\u0008\u000a-\u001f\u007f]/;

function asHeaderValue(secret: Buffer): void {
  if (BAD_HEADER_BYTES.test(secret.toString("utf8")))
    throw new GatewayReject("upstream_error", "stored credential is not a valid header value");
}

function basicPair(secret: Buffer): { pair: Buffer; password: Buffer } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(secret.toString("utf8"));
  } catch {
    throw new GatewayReject("upstream_error", "stored basic credential is malformed");
  }
  const p = parsed as { username?: unknown; password?: unknown };
  if (typeof p?.username !== "string" || typeof p.password !== "string" || p.username.includes(":")) {
    throw new GatewayReject("upstream_error", "stored basic credential is malformed");
  }
  return { pair: Buffer.from(`${p.username}:${p.password}`, "utf8"), password: Buffer.from(p.password, "utf8") };
}

/**
 * What injecting a service's credential takes, derived once from the decrypted secret: where it goes (a header
 * name, or null for the query), the exact bytes set there, and the scrub needles. Every Buffer here is derived
 * from the secret: the owner zeroes them (`wipeInjection`). The secret itself is not kept.
 */
export interface Injection {
  /** Lower-case header name, or null: `value` is a `name=value` query parameter. */
  header: string | null;
  value: Buffer;
  needles: Buffer[];
}

export function prepareInjection(auth: ServiceAuth, secret: Buffer): Injection {
  switch (auth.type) {
    case "bearer":
      return headerInjection("authorization", "Bearer ", secret, [secret]);
    case "basic": {
      const { pair, password } = basicPair(secret);
      try {
        const value = Buffer.from(`Basic ${pair.toString("base64")}`, "latin1");
        return { header: "authorization", value, needles: buildNeedles([pair, password]) };
      } finally {
        pair.fill(0);
        password.fill(0);
      }
    }
    case "header": {
      const name = (auth.name ?? "").toLowerCase();
      if (!name) throw new GatewayReject("upstream_error", "service auth header name is not configured");
      return headerInjection(name, auth.prefix ?? "", secret, [secret]);
    }
    case "query": {
      const name = auth.name ?? "";
      if (!name) throw new GatewayReject("upstream_error", "service auth query parameter is not configured");
      const param = `${encodeURIComponent(name)}=${encodeURIComponent(secret.toString("utf8"))}`;
      return { header: null, value: Buffer.from(param, "latin1"), needles: buildNeedles([secret]) };
    }
    case "aws_sigv4":
      // Never reached with a route-scoped nonce; a backstop so a static injection can never send the AWS root.
      throw new GatewayReject(
        "nonce_invalid",
        "this service takes AWS SigV4-signed requests (see the nonce's aws keys)",
      );
    default:
      // Dynamic kinds never inject their root secret: minted/ credentials are applied by applyMinted().
      throw new GatewayReject("upstream_error", "this service's credential is minted, not injected");
  }
}

function headerInjection(name: string, prefix: string, secret: Buffer, secrets: Buffer[]): Injection {
  asHeaderValue(secret);
  const value = Buffer.concat([Buffer.from(prefix, "utf8"), secret]);
  return { header: name, value, needles: buildNeedles(secrets) };
}

/** Sets the credential in `headers` or appends it to `query`; returns the query to forward. */
export function applyInjection(inj: Injection, headers: Record<string, string>, query: string): string {
  const v = inj.value.toString(inj.header === null ? "latin1" : "utf8");
  if (inj.header !== null) {
    headers[inj.header] = v;
    return query;
  }
  return query.length === 0 ? v : `${query}&${v}`;
}

export function wipeInjection(inj: Injection): void {
  inj.value.fill(0);
  for (const n of inj.needles) n.fill(0);
}

/** One request's injection from a freshly decrypted secret; the caller owns (and wipes) the returned needles. */
export function injectCredential(
  auth: ServiceAuth,
  secret: Buffer,
  headers: Record<string, string>,
  query: string,
): Injected {
  const inj = prepareInjection(auth, secret);
  try {
    return { query: applyInjection(inj, headers, query), needles: inj.needles };
  } finally {
    inj.value.fill(0);
  }
}

/**
 * Removes the service's own query parameter from the client's query (rule 5), comparing the decoded,
 * case-folded name so `API_KEY=`, `api%5Fkey=` and `api+key` tricks are all caught. Throws on undecodable names.
 */
export function stripQueryParam(query: string, name: string): string {
  if (query.length === 0) return query;
  const target = name.toLowerCase();
  const kept: string[] = [];
  for (const part of query.split("&")) {
    const eq = part.indexOf("=");
    const rawName = eq === -1 ? part : part.slice(0, eq);
    let decoded: string;
    try {
      decoded = decodeURIComponent(rawName.replaceAll("+", " "));
    } catch {
      throw new GatewayReject("bad_request", "invalid percent-encoding in query");
    }
    if (decoded.trim().toLowerCase() === target) continue;
    kept.push(part);
  }
  return kept.join("&");
}
