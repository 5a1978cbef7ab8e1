import { newId } from "../core/ids.js";
import type { Actor, ApiKeyRecord, AuditDraft, AuditType } from "../core/types.js";
import type { AppContext } from "./context.js";

/** Who is calling: the authenticated API key and the socket's address (never a forwarded header). */
export interface Caller {
  key: ApiKeyRecord;
  sourceIp: string | null;
}

export function actorOf(key: ApiKeyRecord): Actor {
  return { type: "api_key", id: key.id, name: key.name };
}

/** Builds a control-plane audit draft; the store assigns seq and hashes in the same transaction as the change. */
export function auditDraft(
  ctx: AppContext,
  caller: Caller,
  type: AuditType,
  fields: Partial<Omit<AuditDraft, "id" | "time" | "type" | "actor" | "sourceIp">>,
  now: number = ctx.clock.now(),
): AuditDraft {
  return {
    id: newId("evt", now),
    time: now,
    type,
    actor: actorOf(caller.key),
    agent: fields.agent ?? null,
    task: fields.task ?? null,
    nonceId: fields.nonceId ?? null,
    service: fields.service ?? null,
    scopes: fields.scopes ?? null,
    reason: fields.reason ?? null,
    request: fields.request ?? null,
    sourceIp: caller.sourceIp,
    data: fields.data ?? null,
  };
}
