import { createHmac } from "node:crypto";
import { publicEvent } from "../core/audit-chain.js";
import type { AuditEvent } from "../core/types.js";

/**
 * The approval webhook's body and signature. One POST per `approval.requested` event:
 *
 *   X-Agent-Nonce-Timestamp: <unix seconds>
 *   X-Agent-Nonce-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
 *
 * The receiver recomputes the HMAC over the exact bytes it received and compares in constant time, and refuses
 * a timestamp far from its own clock (replays). The body never carries a token: the nonce does not exist yet.
 */
export const SIGNATURE_HEADER = "x-agent-nonce-signature";
export const TIMESTAMP_HEADER = "x-agent-nonce-timestamp";

export function approvalWebhookBody(e: AuditEvent): string {
  const data = e.data ?? {};
  return JSON.stringify({
    type: e.type,
    approval: {
      id: data.approval_id,
      service: e.service,
      agent: e.agent,
      task: e.task,
      scopes: e.scopes,
      requested_by: data.requested_by,
      requested_by_name: data.requested_by_name,
      ttl_s: data.ttl_s,
      expires_at: data.expires_at,
    },
    event: publicEvent(e),
  });
}

export function signApprovalWebhook(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}
