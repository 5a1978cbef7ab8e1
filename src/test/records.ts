import { draftEvent } from "../app/audit-draft.js";
import { newId } from "../core/ids.js";
import { generateToken, tokenKey } from "../core/tokens.js";
import type { AuditDraft, AuditType, NonceRecord } from "../core/types.js";

/**
 * A nonce record as issuance would store it, issued at `at` (valid for an hour, no limits), with a fresh token;
 * tests override the fields they are about. The token is returned beside the record for tests that present it.
 */
export function nonceRecord(over: Partial<NonceRecord> = {}, at: number): NonceRecord & { token: string } {
  const token = generateToken("an", at);
  return {
    token,
    id: newId("nce", at),
    tokenKey: tokenKey(token),
    service: "stripe",
    scopes: ["read:customers"],
    routes: ["GET /v1/customers"],
    agent: "bot",
    task: null,
    maxUses: null,
    uses: 0,
    constraints: null,
    metadata: null,
    rate: null,
    issuedBy: "key_x",
    createdAt: at,
    expiresAt: at + 3_600_000,
    revokedAt: null,
    ...over,
  };
}

/** An audit draft at `at` with every field null (the app's own `draftEvent`), then the test's overrides. */
export function auditDraftRecord(type: AuditType, over: Partial<AuditDraft>, at: number): AuditDraft {
  return { ...draftEvent(type, null, {}, at), ...over };
}
