import type { NonceRecord } from "../../core/types.js";
import type { ConsumeRefusal, ConsumeResult } from "../../store/store.js";
import { isDeadReason } from "../dead-nonces.js";
import { deadMessage, draft, errName } from "./answer.js";
import type { PipelineDeps } from "./deps.js";
import { type Exchange, type Rejection, refuse, type Subject } from "./exchange.js";

/**
 * Stage 5, consume: the store's atomic check-and-count with its `nonce.used` event in one transaction
 * (`Store.consumeNonce`); a store failure is a 503 and nothing is forwarded (rule 10, fail closed). Revocation,
 * expiry and use counts are never cached as alive, so this is where a nonce revoked a moment ago is refused.
 * Shared by the token flow and the AWS flow. `credential` is the fingerprint of the service's credential that
 * inject will use (null when the service has none yet).
 */

export async function consume(
  d: PipelineDeps,
  x: Exchange,
  s: Subject,
  credential: string | null,
): Promise<NonceRecord | Rejection> {
  let consumed: ConsumeResult;
  // Pending nonce.completed events join this consume's group-committed transaction (see CompletionLog).
  d.completions.beforeWrite();
  try {
    consumed = await d.ctx.store.consumeNonce(
      s.key,
      x.now,
      (n) => used(x, n, s.path, credential),
      // A dead nonce's event is coalesced outside this transaction (answer.ts): a replayed leak must not compete
      // for the store's writer. Only rate_limited and the "changed under us" nonce_invalid are written here.
      (reason: ConsumeRefusal, n) =>
        n && !isDeadReason(reason) ? draft(x, "nonce.rejected", n, reason, s.path) : null,
    );
  } catch (e) {
    d.ctx.metrics.auditWriteFailures.inc();
    d.ctx.log.error({ err: errName(e), request_id: x.requestId }, "gateway consume failed (fail closed)");
    return refuse(s, "unavailable", "the credential store is unavailable");
  }
  if (consumed.ok) {
    d.tripwires.noteUse(s.nonce.id, x.sourceIp);
    return consumed.nonce;
  }
  return consumeRejection(s, consumed);
}

/**
 * `nonce.used` names the real credential the request is about to carry, by fingerprint (never its value): which
 * credential was used when is one query, across rotations (docs/audit.md). The same service record is injected.
 */
function used(x: Exchange, n: NonceRecord, path: string, credential: string | null) {
  const e = draft(x, "nonce.used", n, null, path);
  // `data` is this draft's own object (nonceDraft): set in place, same keys in the same order as a copy.
  if (credential !== null && e.data !== null) e.data.credential = credential;
  return e;
}

/**
 * The answer to a consume that counted no use. A dead reason becomes the nonce's 401 (remembered and coalesced in
 * answer.ts); `rate_limited` (the store decides the nonce's rate with its use count) is a 429 with Retry-After,
 * never a dead nonce (its `nonce.rejected` event is the store's, written by the reject callback above).
 */
export function consumeRejection(s: Subject, result: Extract<ConsumeResult, { ok: false }>): Rejection {
  if (result.reason === "rate_limited") {
    return refuse(s, "rate_limited", "this nonce's rate limit is exceeded", {
      retryAfterS: Math.max(1, Math.ceil(result.retryAfterMs / 1000)),
    });
  }
  return refuse(s, result.reason, deadMessage(result.reason));
}
