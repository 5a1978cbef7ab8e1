import { AppError } from "../core/errors.js";
import { hashToken, isWellFormed } from "../core/tokens.js";
import type { ApiKeyRecord, Role } from "../core/types.js";
import type { ApiKeyStore, TrustStore } from "../store/store.js";
import type { ApiKeyCache } from "./api-key-cache.js";
import type { AppContext } from "./context.js";
import { looksLikeJwt, oidcVerifierFor } from "./oidc.js";

/**
 * API-key authentication: shape and checksum first (no lookup for garbage), then one lookup by SHA-256.
 * Every failure is the same 401 with the same message, so a caller learns nothing about which check failed,
 * and the token is never echoed. A JWT (three base64url parts; an `ank_` key has no dots) goes to the OIDC
 * verifier (src/app/oidc.ts) and never to the key lookup; its failures name the check that failed.
 */
const UNAUTHENTICATED = "a valid API key is required: Authorization: Bearer ank_…";

export function bearerToken(authorization: string | undefined): string | null {
  if (!authorization) return null;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
  return m ? (m[1] as string) : null;
}

export async function authenticate(
  ctx: AppContext<ApiKeyStore & TrustStore>,
  authorization: string | undefined,
  cache?: ApiKeyCache,
): Promise<ApiKeyRecord> {
  const token = bearerToken(authorization);
  if (token && looksLikeJwt(token)) return oidcVerifierFor(ctx).authenticate(token);
  if (!token || !isWellFormed(token, "ank")) throw new AppError("unauthenticated", UNAUTHENTICATED);
  const hash = hashToken(token);
  const key = cache ? await cache.get(hash) : await ctx.store.getApiKeyByHash(hash);
  if (!key || key.revokedAt !== null) throw new AppError("unauthenticated", UNAUTHENTICATED);
  return key;
}

export function requireRole(key: ApiKeyRecord, ...roles: Role[]): void {
  if (!roles.includes(key.role)) {
    throw new AppError("forbidden", `this operation needs the ${roles.join(" or ")} role`);
  }
}
