import { createPrivateKey } from "node:crypto";
import { SignJWT } from "jose";
import { fingerprint } from "../../core/crypto.js";
import type { ServiceRecord } from "../../core/types.js";
import type { IssuerHttp } from "./http.js";
import {
  type CredentialMinter,
  CredentialUnavailable,
  type MintedCredential,
  type MintInput,
  type MintNonce,
  type OutboundRequest,
  type Refusal,
} from "./types.js";

/**
 * `github_app`: one installation token per nonce, narrowed to the nonce's repositories and to the App
 * permissions its scopes name (`issues:read` → `{issues: "read"}`; `metadata: read` always, as GitHub grants it
 * anyway). Minted with an RS256 App JWT (`POST /app/installations/{id}/access_tokens`), sent as
 * `Authorization: token …`, revoked with `DELETE /installation/token` when the nonce ends.
 *
 * Permissions are always sent explicitly: an access_tokens request without `permissions` would get every
 * permission of the installation. A scope that names no App permission (a raw route) adds none.
 */

const SCOPE = /^([a-z_]+):(read|write)$/;
const API_VERSION = "2022-11-28";

export function permissionsFor(scopes: readonly string[]): Record<string, "read" | "write"> {
  const out: Record<string, "read" | "write"> = { metadata: "read" };
  for (const s of scopes) {
    const m = SCOPE.exec(s);
    if (!m) continue;
    const [, name, level] = m as unknown as [string, string, "read" | "write"];
    if (out[name] !== "write") out[name] = level;
  }
  return out;
}

function repositoriesOf(nonce: MintNonce): string[] {
  const repos = nonce.params?.github?.repositories;
  if (!repos || repos.length === 0) throw new CredentialUnavailable("no_repositories");
  return repos;
}

function parseRoot(root: Buffer): string {
  try {
    const v = JSON.parse(root.toString("utf8")) as { private_key?: unknown };
    if (typeof v.private_key === "string") return v.private_key;
  } catch {}
  throw new CredentialUnavailable("root_credential_malformed");
}

function base(service: ServiceRecord): string {
  return service.upstream.replace(/\/$/, "");
}

export function createGithubAppMinter(http: IssuerHttp, userAgent = "agent-nonce"): CredentialMinter {
  return {
    type: "github_app",
    sharing: "nonce",
    retryOn401: false,

    authorize(nonce: MintNonce, _service: ServiceRecord, req: OutboundRequest): Refusal | null {
      const seg = req.path.split("/");
      // "/repos/{owner}/{repo}/…": the token could reach only the nonce's repositories anyway, but the gateway
      // refuses before sending so the agent sees why and the audit log records the attempt.
      if (seg[1] === "repos" && seg.length >= 4) {
        const full = `${decodeURIComponent(seg[2] ?? "")}/${decodeURIComponent(seg[3] ?? "")}`.toLowerCase();
        const allowed = (nonce.params?.github?.repositories ?? []).some((r) => r.toLowerCase() === full);
        if (!allowed) {
          return {
            code: "scope_denied",
            message: "this repository is outside this nonce's repositories",
            data: { repository: full },
          };
        }
      }
      // By numeric id the gateway cannot tell which repository is meant.
      if (seg[1] === "repositories") {
        return { code: "scope_denied", message: "repositories by id are outside this nonce's scope" };
      }
      return null;
    },

    async mint({ nonce, service, rootSecret, now }: MintInput): Promise<MintedCredential> {
      const { app_id: appId, installation_id: installationId } = service.auth;
      if (!appId || !installationId) throw new CredentialUnavailable("service_misconfigured");
      const repos = repositoriesOf(nonce);
      let jwt: string;
      try {
        const key = createPrivateKey(parseRoot(rootSecret));
        const iat = Math.floor(now / 1000) - 60; // GitHub's advice: allow for clock drift
        jwt = await new SignJWT({})
          .setProtectedHeader({ alg: "RS256", typ: "JWT" })
          .setIssuer(appId)
          .setIssuedAt(iat)
          .setExpirationTime(iat + 600)
          .sign(key);
      } catch (e) {
        if (e instanceof CredentialUnavailable) throw e;
        throw new CredentialUnavailable("root_credential_malformed");
      }
      const res = await http.send(
        `${base(service)}/app/installations/${encodeURIComponent(installationId)}/access_tokens`,
        {
          method: "POST",
          headers: {
            accept: "application/vnd.github+json",
            authorization: `Bearer ${jwt}`,
            "content-type": "application/json",
            "user-agent": userAgent,
            "x-github-api-version": API_VERSION,
          },
          body: JSON.stringify({
            repositories: repos.map((r) => r.slice(r.indexOf("/") + 1)),
            permissions: permissionsFor(nonce.scopes),
          }),
        },
        service.insecureUpstream,
      );
      if (res.status !== 201) throw new CredentialUnavailable(res.status >= 500 ? "issuer_error" : "issuer_refused");
      let body: { token?: unknown; expires_at?: unknown; repositories?: unknown };
      try {
        body = JSON.parse(res.body.toString("utf8"));
      } catch {
        throw new CredentialUnavailable("issuer_malformed_response");
      } finally {
        res.body.fill(0);
      }
      const expiresAt = typeof body.expires_at === "string" ? Date.parse(body.expires_at) : Number.NaN;
      if (typeof body.token !== "string" || !/^[\x21-\x7e]{8,512}$/.test(body.token) || !Number.isFinite(expiresAt)) {
        throw new CredentialUnavailable("issuer_malformed_response");
      }
      const token = Buffer.from(body.token, "utf8");
      const cred: MintedCredential = {
        headers: { authorization: `token ${body.token}` },
        secrets: [token],
        expiresAt,
        fingerprint: fingerprint(service.name, token),
      };
      // Defence in depth: a token wider than asked for is revoked at once, never used.
      const granted = Array.isArray(body.repositories)
        ? body.repositories.map((r) => String((r as { full_name?: unknown }).full_name ?? "").toLowerCase())
        : null;
      const wanted = new Set(repos.map((r) => r.toLowerCase()));
      if (granted === null || granted.some((g) => !wanted.has(g))) {
        await this.destroy?.(cred, service).catch(() => {});
        token.fill(0);
        throw new CredentialUnavailable("issuer_widened_token");
      }
      return cred;
    },

    async destroy(cred: MintedCredential, service: ServiceRecord): Promise<void> {
      const res = await http.send(
        `${base(service)}/installation/token`,
        {
          method: "DELETE",
          headers: {
            accept: "application/vnd.github+json",
            authorization: cred.headers.authorization ?? "",
            "user-agent": userAgent,
            "x-github-api-version": API_VERSION,
          },
        },
        service.insecureUpstream,
      );
      // 401: already revoked or expired — the goal either way.
      if (res.status !== 204 && res.status !== 401) throw new CredentialUnavailable("revoke_failed");
    },
  };
}
