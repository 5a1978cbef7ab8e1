import { fingerprint, seal } from "../core/crypto.js";
import { AppError } from "../core/errors.js";
import type { ServiceStore } from "../store/store.js";
import { auditDraft, type Caller } from "./audit-draft.js";
import { requireRole } from "./auth.js";
import type { AppContext } from "./context.js";
import { dynamicCredentialPlaintext, isDynamicAuth } from "./dynamic-auth.js";

/** What the API accepts: a single secret, or a username/password pair for basic-auth services. */
export type CredentialInput =
  | { secret: string }
  | { username: string; password: string }
  | { private_key: string }
  | { client_secret: string; refresh_token?: string | undefined }
  | { access_key_id: string; secret_access_key: string };

export interface CredentialSet {
  fingerprint: string;
  updatedAt: number;
}

// The secret is injected into a header or query string: CR, LF and NUL would allow header injection (rule 6).
const FORBIDDEN = /[\r\n\0]/;

function plaintextFor(authType: string, input: CredentialInput): Buffer {
  if (authType === "aws_sigv4") {
    if (!("access_key_id" in input)) {
      throw new AppError("invalid_request", "this service uses aws_sigv4: send access_key_id and secret_access_key");
    }
    if (FORBIDDEN.test(input.access_key_id) || FORBIDDEN.test(input.secret_access_key)) {
      throw new AppError("invalid_request", "credential must not contain CR, LF or NUL");
    }
    const { access_key_id, secret_access_key } = input;
    return Buffer.from(JSON.stringify({ access_key_id, secret_access_key }), "utf8");
  }
  if (isDynamicAuth(authType)) return dynamicCredentialPlaintext(authType, input as Record<string, unknown>);
  if ("access_key_id" in input)
    throw new AppError("invalid_request", `this service uses ${authType} auth: send secret`);
  if (authType === "basic") {
    if (!("username" in input))
      throw new AppError("invalid_request", "this service uses basic auth: send username and password");
    if (input.username.includes(":")) throw new AppError("invalid_request", "username must not contain ':'");
    if (FORBIDDEN.test(input.username) || FORBIDDEN.test(input.password)) {
      throw new AppError("invalid_request", "credential must not contain CR, LF or NUL");
    }
    return Buffer.from(JSON.stringify({ username: input.username, password: input.password }), "utf8");
  }
  if (!("secret" in input)) throw new AppError("invalid_request", `this service uses ${authType} auth: send secret`);
  if (FORBIDDEN.test(input.secret)) throw new AppError("invalid_request", "credential must not contain CR, LF or NUL");
  return Buffer.from(input.secret, "utf8");
}

/**
 * Seals and stores a service's credential. Write-only: the response and the audit event carry only the
 * fingerprint. The plaintext Buffer is zeroed once sealed (the request's JS string cannot be, and is dropped).
 */
export async function setCredential(
  ctx: AppContext<ServiceStore>,
  caller: Caller,
  name: string,
  input: CredentialInput,
): Promise<CredentialSet> {
  requireRole(caller.key, "admin");
  const service = await ctx.store.getService(name);
  if (!service) throw new AppError("service_not_found", `no service named ${JSON.stringify(name)}`);
  const plain = plaintextFor(service.auth.type, input);
  let sealed: Buffer;
  let fp: string;
  try {
    sealed = seal(ctx.masterKeys, name, plain);
    fp = fingerprint(name, plain);
  } finally {
    plain.fill(0);
  }
  const now = ctx.clock.now();
  const ok = await ctx.store.setCredential(
    name,
    sealed,
    fp,
    now,
    auditDraft(ctx, caller, "credential.set", { service: name, data: { fingerprint: fp } }, now),
  );
  if (!ok) throw new AppError("service_not_found", `no service named ${JSON.stringify(name)}`);
  ctx.events.emit("service.changed", name);
  return { fingerprint: fp, updatedAt: now };
}
