import { AppError } from "../core/errors.js";
import type { NonceRecord } from "../core/types.js";
import type { NonceFilter, NonceStore, Page, PageRequest } from "../store/store.js";
import type { Caller } from "./audit-draft.js";
import { requireRole } from "./auth.js";
import type { AppContext } from "./context.js";

/** Reads of nonce state. Issuers see only the nonces they issued; another key's nonce is simply not found. */
export async function getNonceFor(ctx: AppContext<NonceStore>, caller: Caller, id: string): Promise<NonceRecord> {
  requireRole(caller.key, "admin", "issuer", "auditor");
  const n = await ctx.store.getNonce(id);
  if (!n || (caller.key.role === "issuer" && n.issuedBy !== caller.key.id)) {
    throw new AppError("nonce_not_found", `no nonce with id ${JSON.stringify(id)}`);
  }
  return n;
}

export async function listNoncesFor(
  ctx: AppContext<NonceStore>,
  caller: Caller,
  filter: Omit<NonceFilter, "issuedBy">,
  page: PageRequest,
): Promise<Page<NonceRecord>> {
  requireRole(caller.key, "admin", "issuer", "auditor");
  const issuedBy = caller.key.role === "issuer" ? caller.key.id : undefined;
  return ctx.store.listNonces({ ...filter, issuedBy }, page, ctx.clock.now());
}
