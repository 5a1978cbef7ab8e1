import { AppError } from "../core/errors.js";
import { newId } from "../core/ids.js";
import { generateToken, hashToken } from "../core/tokens.js";
import type { ApiKeyRecord, IssuerPolicy, Role } from "../core/types.js";
import type { ApiKeyStore } from "../store/store.js";
import { auditDraft, type Caller } from "./audit-draft.js";
import { requireRole } from "./auth.js";
import type { AppContext } from "./context.js";
import { validatePolicy } from "./policy.js";

export interface KeyInput {
  name: string;
  role: Role;
  policy?: IssuerPolicy | undefined;
}

/**
 * API keys. A policy belongs to issuers only: it is required for them (an issuer without one could issue
 * nothing) and refused for admins and auditors (it would suggest a restriction that does not exist).
 */
export async function createKey(
  ctx: AppContext<ApiKeyStore>,
  caller: Caller,
  input: KeyInput,
): Promise<{ record: ApiKeyRecord; key: string }> {
  requireRole(caller.key, "admin");
  if (input.role === "issuer" && !input.policy) throw new AppError("invalid_request", "an issuer key needs a policy");
  if (input.role !== "issuer" && input.policy) {
    throw new AppError("invalid_request", `policy applies to issuer keys only, not ${input.role}`);
  }
  if (input.policy) validatePolicy(input.policy);
  const now = ctx.clock.now();
  const key = generateToken("ank");
  const record: ApiKeyRecord = {
    id: newId("key", now),
    name: input.name,
    role: input.role,
    policy: input.policy ?? null,
    keyHash: hashToken(key),
    createdBy: caller.key.id,
    createdAt: now,
    revokedAt: null,
  };
  await ctx.store.insertApiKey(
    record,
    auditDraft(ctx, caller, "key.created", { data: { key_id: record.id, name: record.name, role: record.role } }, now),
  );
  return { record, key };
}

export async function listKeys(ctx: AppContext<ApiKeyStore>, caller: Caller): Promise<ApiKeyRecord[]> {
  requireRole(caller.key, "admin");
  return ctx.store.listApiKeys();
}

/**
 * Revokes a key. A key may not revoke itself: that is how the last admin key would lock everyone out, and an
 * admin who wants to retire its own key creates a successor first and revokes with that one.
 */
export async function revokeKey(ctx: AppContext<ApiKeyStore>, caller: Caller, id: string): Promise<void> {
  requireRole(caller.key, "admin");
  if (id === caller.key.id) throw new AppError("conflict", "an API key cannot revoke itself; use another admin key");
  const existing = await ctx.store.getApiKey(id);
  if (!existing) throw new AppError("key_not_found", `no API key with id ${JSON.stringify(id)}`);
  if (existing.revokedAt !== null) return;
  const now = ctx.clock.now();
  await ctx.store.revokeApiKey(
    id,
    now,
    auditDraft(ctx, caller, "key.revoked", { data: { key_id: id, name: existing.name, role: existing.role } }, now),
  );
  ctx.events.emit("key.revoked", id);
}
