import { AppError } from "../core/errors.js";
import { isNonPublicHost } from "../core/ip-address.js";
import type { ServiceAuth } from "../core/types.js";

/**
 * Validation of the dynamic auth kinds (DESIGN.md "Credential kinds beyond a static key"): the service fields
 * they need and the write-only credential they take. Static kinds are validated in services.ts / credentials.ts.
 */

const DIGITS = /^[1-9][0-9]{0,19}$/;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

const FIELDS: Record<string, readonly string[]> = {
  github_app: ["app_id", "installation_id"],
  oauth2: ["grant", "token_url", "client_id", "scope", "audience", "resource"],
  aws_sigv4: [],
};

export function isDynamicAuth(type: string): type is "github_app" | "oauth2" | "aws_sigv4" {
  return type === "github_app" || type === "oauth2" || type === "aws_sigv4";
}

/** The token endpoint: an absolute URL (path allowed), https and public unless the service is insecure. */
export function validateTokenUrl(input: string, insecure: boolean): string {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new AppError("invalid_request", "auth.token_url must be an absolute URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new AppError("invalid_request", "auth.token_url must use https (or http with insecure_upstream)");
  }
  if (url.username || url.password || url.hash) {
    throw new AppError("invalid_request", "auth.token_url must not carry credentials or a fragment");
  }
  if (!insecure && (url.protocol === "http:" || isNonPublicHost(url.hostname))) {
    throw new AppError(
      "invalid_request",
      "a plain http, loopback or private auth.token_url needs insecure_upstream: true",
    );
  }
  return url.href;
}

export function validateDynamicAuth(auth: ServiceAuth, insecure: boolean): ServiceAuth {
  const allowed = new Set(FIELDS[auth.type] ?? []);
  for (const [k, v] of Object.entries(auth)) {
    if (k !== "type" && v !== undefined && !allowed.has(k)) {
      throw new AppError("invalid_request", `auth.${k} is not used with auth.type ${auth.type}`);
    }
  }
  if (auth.type === "github_app") {
    if (!auth.app_id || !DIGITS.test(auth.app_id) || !auth.installation_id || !DIGITS.test(auth.installation_id)) {
      throw new AppError("invalid_request", "github_app needs auth.app_id and auth.installation_id (numeric ids)");
    }
    return { type: "github_app", app_id: auth.app_id, installation_id: auth.installation_id };
  }
  if (auth.type === "oauth2") {
    if (auth.grant !== "client_credentials" && auth.grant !== "refresh_token") {
      throw new AppError("invalid_request", "oauth2 needs auth.grant: client_credentials or refresh_token");
    }
    if (!auth.client_id || !PRINTABLE_ASCII.test(auth.client_id)) {
      throw new AppError("invalid_request", "oauth2 needs auth.client_id (printable ASCII)");
    }
    if (!auth.token_url) throw new AppError("invalid_request", "oauth2 needs auth.token_url");
    const out: ServiceAuth = {
      type: "oauth2",
      grant: auth.grant,
      token_url: validateTokenUrl(auth.token_url, insecure),
      client_id: auth.client_id,
    };
    for (const k of ["scope", "audience", "resource"] as const) {
      const v = auth[k];
      if (v === undefined) continue;
      if (!PRINTABLE_ASCII.test(v)) throw new AppError("invalid_request", `auth.${k} must be printable ASCII`);
      out[k] = v;
    }
    return out;
  }
  // aws_sigv4 carries its settings in the service's own `aws` field (src/gateway/aws/).
  return { type: auth.type };
}

/** What `PUT /v1/services/{name}/credential` accepts for a dynamic kind, as the UTF-8 JSON that is sealed. */
export function dynamicCredentialPlaintext(type: string, input: Record<string, unknown>): Buffer {
  const str = (k: string, max: number): string | undefined => {
    const v = input[k];
    if (v === undefined) return undefined;
    if (typeof v !== "string" || v.length === 0 || v.length > max) {
      throw new AppError("invalid_request", `${k} must be a non-empty string of at most ${max} characters`);
    }
    return v;
  };
  const only = (keys: string[]) => {
    for (const k of Object.keys(input)) {
      if (!keys.includes(k))
        throw new AppError("invalid_request", `this service uses ${type}: send ${keys.join(", ")}`);
    }
  };
  if (type === "github_app") {
    only(["private_key"]);
    const pem = str("private_key", 16384);
    if (!pem || !/^-----BEGIN (RSA )?PRIVATE KEY-----/.test(pem.trim())) {
      throw new AppError("invalid_request", "github_app needs private_key: the App's PEM private key");
    }
    return Buffer.from(JSON.stringify({ private_key: pem }), "utf8");
  }
  if (type === "oauth2") {
    only(["client_secret", "refresh_token"]);
    const clientSecret = str("client_secret", 4096);
    if (!clientSecret)
      throw new AppError("invalid_request", "oauth2 needs client_secret (and refresh_token for that grant)");
    const refresh = str("refresh_token", 8192);
    if (/[\r\n\0]/.test(clientSecret) || (refresh && /[\r\n\0]/.test(refresh))) {
      throw new AppError("invalid_request", "credential must not contain CR, LF or NUL");
    }
    return Buffer.from(
      JSON.stringify(
        refresh ? { client_secret: clientSecret, refresh_token: refresh } : { client_secret: clientSecret },
      ),
      "utf8",
    );
  }
  throw new AppError("invalid_request", `credentials of auth.type ${type} are set by their own module`);
}
