import { draftEvent } from "../../app/audit-draft.js";
import type { GatewayContext } from "../../app/context.js";
import { fingerprint, open, seal } from "../../core/crypto.js";
import type { ServiceRecord } from "../../core/types.js";
import type { IssuerHttp } from "./http.js";
import { type CredentialMinter, CredentialUnavailable, type MintedCredential, type MintInput } from "./types.js";

/**
 * `oauth2`: one access token per service, shared by its nonces (the token's rights are the client's, and the
 * gateway's scope check is what narrows each nonce). Obtained with client_credentials or refresh_token
 * (client_secret_basic), refreshed before expiry by the cache, and once after an upstream 401 (`retryOn401`).
 * The cache's single flight makes it one refresh at a time per service.
 *
 * A rotated refresh token is re-sealed into the service's credential and stored (compare-and-set on the old
 * fingerprint, audited `credential.rotated`) BEFORE the new access token is returned: if that write fails, the
 * access token is not used, because the only copy of the new refresh token would be in memory.
 * An authorization server that refuses (`invalid_grant` …) is a `CredentialUnavailable` with its error code: the
 * agent gets 502 credential_unavailable, the audit log `credential.mint_failed`, and nothing retries in a loop.
 */

interface Root {
  client_secret: string;
  refresh_token?: string;
}

function parseRoot(root: Buffer): Root {
  try {
    const v = JSON.parse(root.toString("utf8")) as Partial<Root>;
    if (typeof v.client_secret === "string") return v as Root;
  } catch {}
  throw new CredentialUnavailable("root_credential_malformed");
}

// RFC 6749 §5.2 error codes are ASCII words; anything else is not echoed into the audit log.
const ERROR_WORD = /^[a-z_]{1,40}$/;
const DEFAULT_TTL_S = 300;

export function createOauth2Minter(ctx: GatewayContext, http: IssuerHttp): CredentialMinter {
  return {
    type: "oauth2",
    sharing: "service",
    retryOn401: true,

    async mint({ nonce, service, rootSecret, now }: MintInput): Promise<MintedCredential> {
      const auth = service.auth;
      if (!auth.token_url || !auth.client_id || !auth.grant) throw new CredentialUnavailable("service_misconfigured");
      // refresh_token: the freshest root from the store, not the (≤ 1 s old) cached one: another mint may have
      // rotated the refresh token since.
      let current = service;
      let root = parseRoot(rootSecret);
      if (auth.grant === "refresh_token") {
        const fresh = await ctx.store.getService(service.name);
        if (!fresh?.credential) throw new CredentialUnavailable("no_root_credential");
        current = fresh;
        const opened = open(ctx.masterKeys, fresh.name, fresh.credential);
        try {
          root = parseRoot(opened);
        } finally {
          opened.fill(0);
        }
        if (!root.refresh_token) throw new CredentialUnavailable("no_refresh_token");
      }
      const form = new URLSearchParams({ grant_type: auth.grant });
      if (auth.grant === "refresh_token") form.set("refresh_token", root.refresh_token as string);
      if (auth.scope) form.set("scope", auth.scope);
      if (auth.audience) form.set("audience", auth.audience);
      if (auth.resource) form.set("resource", auth.resource);
      const basic = Buffer.from(
        `${encodeURIComponent(auth.client_id)}:${encodeURIComponent(root.client_secret)}`,
        "utf8",
      ).toString("base64");
      const res = await http.send(
        auth.token_url,
        {
          method: "POST",
          headers: {
            accept: "application/json",
            authorization: `Basic ${basic}`,
            "content-type": "application/x-www-form-urlencoded",
          },
          body: form.toString(),
        },
        service.insecureUpstream,
      );
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(res.body.toString("utf8"));
      } catch {
        if (res.status === 200) throw new CredentialUnavailable("issuer_malformed_response");
      } finally {
        res.body.fill(0);
      }
      if (res.status !== 200) {
        const word = typeof body.error === "string" && ERROR_WORD.test(body.error) ? body.error : null;
        throw new CredentialUnavailable(word ?? (res.status >= 500 ? "issuer_error" : "issuer_refused"));
      }
      const access = body.access_token;
      if (typeof access !== "string" || !/^[\x21-\x7e]{1,8192}$/.test(access)) {
        throw new CredentialUnavailable("issuer_malformed_response");
      }
      if (typeof body.token_type === "string" && body.token_type.toLowerCase() !== "bearer") {
        throw new CredentialUnavailable("unsupported_token_type");
      }
      const ttl = typeof body.expires_in === "number" && body.expires_in > 0 ? body.expires_in : DEFAULT_TTL_S;
      const token = Buffer.from(access, "utf8");
      const cred: MintedCredential = {
        headers: { authorization: `Bearer ${access}` },
        secrets: [token],
        expiresAt: now + ttl * 1000,
        fingerprint: fingerprint(service.name, token),
      };
      const rotated = body.refresh_token;
      if (typeof rotated === "string" && rotated !== root.refresh_token) {
        cred.rootFingerprint = await storeRotated(ctx, current, root, rotated, nonce.id, now);
      }
      return cred;
    },
  };
}

/** Seals the new refresh token into the service's credential; throws (and the access token is dropped) if not stored. */
async function storeRotated(
  ctx: GatewayContext,
  service: ServiceRecord,
  root: Root,
  refreshToken: string,
  nonceId: string,
  now: number,
): Promise<string> {
  if (!/^[\x21-\x7e]{1,8192}$/.test(refreshToken)) throw new CredentialUnavailable("issuer_malformed_response");
  const plain = Buffer.from(JSON.stringify({ client_secret: root.client_secret, refresh_token: refreshToken }), "utf8");
  let sealed: Buffer;
  let fp: string;
  try {
    sealed = seal(ctx.masterKeys, service.name, plain);
    fp = fingerprint(service.name, plain);
  } finally {
    plain.fill(0);
  }
  const audit = draftEvent(
    "credential.rotated",
    { type: "system", id: "gateway", name: "gateway" },
    { service: service.name, nonceId, reason: "refresh_token_rotated", data: { fingerprint: fp } },
    now,
  );
  let ok: boolean;
  try {
    ok = await ctx.store.setCredential(
      service.name,
      sealed,
      fp,
      now,
      audit,
      service.credentialFingerprint ?? undefined,
    );
  } catch {
    ctx.metrics.auditWriteFailures.inc();
    throw new CredentialUnavailable("rotation_not_stored");
  }
  // Someone replaced the credential meanwhile: theirs wins, and this token (from the old grant) is not used.
  if (!ok) throw new CredentialUnavailable("credential_changed");
  return fp;
}
