import type { z } from "@hono/zod-openapi";
import { nonceStatus } from "../core/nonces.js";
import type { ApiKeyRecord, NonceRecord, NonceStatus, ServiceRecord } from "../core/types.js";
import type { KeyView, NonceView, ServiceView } from "./schemas.js";

/** Records → public JSON. These are the only shapes that leave the control plane: no token, hash or secret. */

const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

/**
 * A delegated nonce's own row can read "active" while an ancestor is revoked, exhausted or expired; the gateway
 * refuses it (the consume walks the chain). `lineageStatus` is that chain's verdict (store.getNonceStatus), so the
 * view says what the gateway would do.
 */
export async function withLineage(
  nonces: readonly NonceRecord[],
  now: number,
  lineageStatus: (n: NonceRecord) => Promise<NonceStatus | undefined>,
): Promise<Map<string, NonceStatus>> {
  const out = new Map<string, NonceStatus>();
  for (const n of nonces) {
    if (!n.parentId || nonceStatus(n, now) !== "active") continue;
    const s = await lineageStatus(n);
    if (s && s !== "active") out.set(n.id, s);
  }
  return out;
}

export function nonceView(
  n: NonceRecord,
  now: number,
  lineage?: ReadonlyMap<string, NonceStatus>,
): z.infer<typeof NonceView> {
  return {
    id: n.id,
    service: n.service,
    scopes: n.scopes,
    agent: n.agent,
    task: n.task,
    status: lineage?.get(n.id) ?? nonceStatus(n, now),
    uses: n.uses,
    max_uses: n.maxUses,
    rate: n.rate ?? null,
    parent_id: n.parentId ?? null,
    depth: n.depth ?? 0,
    canary: n.canary === true,
    created_at: iso(n.createdAt),
    expires_at: iso(n.expiresAt),
    revoked_at: isoOrNull(n.revokedAt),
  };
}

export function serviceView(s: ServiceRecord): z.infer<typeof ServiceView> {
  return {
    name: s.name,
    template: s.template,
    upstream: s.upstream,
    auth: publicAuth(s.auth),
    scopes: s.scopes,
    insecure_upstream: s.insecureUpstream,
    ...(s.auth.aws ? { aws: s.auth.aws } : {}),
    ...(s.auth.endpoints ? { endpoints: s.auth.endpoints } : {}),
    credential: {
      set: s.credential !== null,
      fingerprint: s.credentialFingerprint,
      updated_at: isoOrNull(s.credentialUpdatedAt),
    },
    created_at: iso(s.createdAt),
    updated_at: iso(s.updatedAt),
  };
}

/** `aws` and `endpoints` are stored with the auth but shown at the service's top level, as they are written. */
function publicAuth(a: ServiceRecord["auth"]): ServiceRecord["auth"] {
  const { aws: _aws, endpoints: _endpoints, ...rest } = a;
  return rest;
}

export function keyView(k: ApiKeyRecord): z.infer<typeof KeyView> {
  return {
    id: k.id,
    name: k.name,
    role: k.role,
    policy: k.policy,
    created_by: k.createdBy,
    created_at: iso(k.createdAt),
    revoked_at: isoOrNull(k.revokedAt),
  };
}
