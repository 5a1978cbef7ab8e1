import { AppError } from "../core/errors.js";
import type { NonceRecord } from "../core/types.js";
import type { NonceStore, RevokeFilter } from "../store/store.js";
import { auditDraft, type Caller } from "./audit-draft.js";
import { requireRole } from "./auth.js";
import type { AppContext } from "./context.js";

function revokedDraft(ctx: AppContext<NonceStore>, caller: Caller, n: NonceRecord, now: number, reason: string) {
  return auditDraft(
    ctx,
    caller,
    "nonce.revoked",
    { agent: n.agent, task: n.task, nonceId: n.id, service: n.service, scopes: n.scopes, reason },
    now,
  );
}

/** Revokes one nonce. Idempotent: revoking a revoked nonce succeeds without a second event. */
export async function revokeNonceById(ctx: AppContext<NonceStore>, caller: Caller, id: string): Promise<void> {
  requireRole(caller.key, "admin", "issuer");
  const n = await ctx.store.getNonce(id);
  if (!n || (caller.key.role === "issuer" && n.issuedBy !== caller.key.id)) {
    throw new AppError("nonce_not_found", `no nonce with id ${JSON.stringify(id)}`);
  }
  if (n.revokedAt !== null) return;
  const now = ctx.clock.now();
  await ctx.store.revokeNonce(id, now, (rec) => revokedDraft(ctx, caller, rec, now, "revoked_by_id"));
  ctx.metrics.noncesRevoked.inc();
  ctx.events.emit("nonce.revoked", id);
}

/** Revokes every live nonce matching the filter (issuers: only their own). Returns how many. */
export async function revokeNoncesMatching(
  ctx: AppContext<NonceStore>,
  caller: Caller,
  filter: Omit<RevokeFilter, "issuedBy">,
): Promise<number> {
  requireRole(caller.key, "admin", "issuer");
  if (filter.task === undefined && filter.agent === undefined && filter.service === undefined) {
    throw new AppError("invalid_request", "name at least one of task, agent or service");
  }
  const issuedBy = caller.key.role === "issuer" ? caller.key.id : undefined;
  const now = ctx.clock.now();
  const ids: string[] = [];
  const count = await ctx.store.revokeNonces({ ...filter, issuedBy }, now, (rec) => {
    ids.push(rec.id);
    return revokedDraft(ctx, caller, rec, now, "revoked_by_filter");
  });
  // Events only after the transaction committed, so a rolled-back revocation never invalidates caches spuriously.
  if (count > 0) ctx.metrics.noncesRevoked.inc(count);
  for (const id of ids) ctx.events.emit("nonce.revoked", id);
  return count;
}
