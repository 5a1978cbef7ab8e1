import { newId } from "../core/ids.js";
import type { Actor, ApiKeyRecord, AuditDraft, AuditType, NonceRecord } from "../core/types.js";
import type { AppContext } from "./context.js";

/** Who is calling: the authenticated API key and the socket's address (never a forwarded header). */
export interface Caller {
  key: ApiKeyRecord;
  sourceIp: string | null;
}

/** An OIDC caller's record is synthesised by src/app/oidc.ts with id `oidc:<trust name>:<sub>` (API key ids are
 * `key_…`, so the prefix cannot collide). */
export function actorOf(key: ApiKeyRecord): Actor {
  if (key.id.startsWith("oidc:")) return { type: "oidc", id: key.id, name: key.name };
  return { type: "api_key", id: key.id, name: key.name };
}

type DraftFields = Partial<Omit<AuditDraft, "id" | "time" | "type" | "actor" | "sourceIp">>;

/** One audit draft with every field not given set to null; the store assigns seq and hashes. */
export function draftEvent(
  type: AuditType,
  actor: Actor | null,
  fields: DraftFields,
  now: number,
  sourceIp: string | null = null,
): AuditDraft {
  return {
    id: newId("evt", now),
    time: now,
    type,
    actor,
    agent: fields.agent ?? null,
    task: fields.task ?? null,
    nonceId: fields.nonceId ?? null,
    service: fields.service ?? null,
    scopes: fields.scopes ?? null,
    reason: fields.reason ?? null,
    request: fields.request ?? null,
    sourceIp,
    data: fields.data ?? null,
  };
}

/** Builds a control-plane audit draft; the store assigns seq and hashes in the same transaction as the change. */
export function auditDraft(
  ctx: AppContext<unknown>,
  caller: Caller,
  type: AuditType,
  fields: DraftFields,
  now: number = ctx.clock.now(),
): AuditDraft {
  return draftEvent(type, actorOf(caller.key), fields, now, caller.sourceIp);
}

/** An event the process itself records (first start, server start, offline commands): no caller, no address. */
export function systemDraft(
  type: AuditType,
  id: string,
  name: string,
  data: Record<string, unknown>,
  now: number,
): AuditDraft {
  return draftEvent(type, { type: "system", id, name }, { data }, now);
}

/**
 * A gateway event about one request made with a nonce (used, rejected, completed): the nonce is the actor, and
 * the request id ties the events of one request together. Every field is set: this runs on every gateway request.
 */
export function nonceDraft(
  type: AuditType,
  n: Pick<NonceRecord, "id" | "agent" | "task" | "service" | "scopes">,
  reason: string | null,
  request: AuditDraft["request"],
  at: { now: number; sourceIp: string | null; requestId: string },
): AuditDraft {
  return {
    id: newId("evt", at.now),
    time: at.now,
    type,
    actor: { type: "nonce", id: n.id, name: n.agent },
    agent: n.agent,
    task: n.task,
    nonceId: n.id,
    service: n.service,
    scopes: n.scopes,
    reason,
    request,
    sourceIp: at.sourceIp,
    data: { request_id: at.requestId },
  };
}
