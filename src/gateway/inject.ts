import type { ServiceAuth } from "../core/types.js";
import { GatewayReject } from "./errors.js";
import { buildNeedles } from "./scrub.js";

/**
 * Injects exactly one credential, per the service's auth type, into headers the client could no longer touch
 * (every client carrier was already stripped). The decrypted secret stays in Buffers until the header value is
 * built; the caller zeroes them afterwards. Returns the byte patterns the response scrubber must look for.
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

function asHeaderValue(secret: Buffer): string {
  const v = secret.toString("utf8");
  if (BAD_HEADER_BYTES.test(v))
    throw new GatewayReject("upstream_error", "stored credential is not a valid header value");
  return v;
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

export function injectCredential(
  auth: ServiceAuth,
  secret: Buffer,
  headers: Record<string, string>,
  query: string,
): Injected {
  switch (auth.type) {
    case "bearer":
      headers.authorization = `Bearer ${asHeaderValue(secret)}`;
      return { query, needles: buildNeedles([secret]) };
    case "basic": {
      const { pair, password } = basicPair(secret);
      try {
        headers.authorization = `Basic ${pair.toString("base64")}`;
        return { query, needles: buildNeedles([pair, password]) };
      } finally {
        pair.fill(0);
        password.fill(0);
      }
    }
    case "header": {
      const name = (auth.name ?? "").toLowerCase();
      if (!name) throw new GatewayReject("upstream_error", "service auth header name is not configured");
      headers[name] = `${auth.prefix ?? ""}${asHeaderValue(secret)}`;
      return { query, needles: buildNeedles([secret]) };
    }
    case "query": {
      const name = auth.name ?? "";
      if (!name) throw new GatewayReject("upstream_error", "service auth query parameter is not configured");
      const param = `${encodeURIComponent(name)}=${encodeURIComponent(secret.toString("utf8"))}`;
      return { query: query.length === 0 ? param : `${query}&${param}`, needles: buildNeedles([secret]) };
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
