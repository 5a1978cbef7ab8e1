import type { IncomingMessage, ServerResponse } from "node:http";
import type { ErrorCode } from "../../core/errors.js";
import type { NonceInfo } from "../caches.js";

/**
 * What the request path's stages hand each other. Each stage takes an explicit input and returns either the next
 * stage's input or a `Rejection`: a value, turned into the answer, the audit event and the metric in one place
 * (answer.ts). Nothing is threaded through the stages as a mutable bag.
 */

/** The request as it arrived, fixed at the start. */
export interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly requestId: string;
  readonly now: number;
  /** performance.now() at the start (duration of `nonce.completed`). */
  readonly started: number;
  readonly method: string;
  /** Read once at the start: by the time `nonce.completed` is written, node may have detached the socket. */
  readonly sourceIp: string | null;
}

/** The nonce a request is made with, once it is known: whom rejections, audit events and metrics are about. */
export interface Subject {
  readonly nonce: NonceInfo;
  readonly key: Buffer;
  /** The path as audited: the canonical path (the raw path for AWS requests, which must already be canonical). */
  readonly path: string;
}

export interface Rejection {
  readonly rejected: ErrorCode;
  /** A fixed string chosen by the gateway: never a token, a secret, an upstream URL or an exception text. */
  readonly message: string;
  /** Whole seconds, sent as `Retry-After` (429s). */
  readonly retryAfterS?: number;
  /** The nonce the refusal is about: labels the metric with its service; needed by `audit` and `unlessDead`. */
  readonly subject?: Subject;
  /**
   * A refusal short of the consume (scope, service, limits, constraints): the nonce's live status is read first,
   * and a dead nonce gets its 401 instead, so it never learns its scope or limits (SECURITY.md rule 14).
   */
  readonly unlessDead?: boolean;
  /** Written as `nonce.rejected` with this reason (best effort: the request is refused either way). */
  readonly audit?: string;
  readonly auditData?: Record<string, unknown>;
  /**
   * A refusal anyone who knows the nonce's id can provoke (a wrong AWS signature): its `nonce.rejected` is
   * coalesced per nonce, reason and `auditData` like a dead nonce's (DeadNonceLog), not written per request.
   * `auditData` must then be fixed per kind of refusal.
   */
  readonly coalesce?: boolean;
  /** After the consume: the use was counted, so `nonce.completed` records the answer the agent got. */
  readonly completes?: boolean;
}

export interface RefuseOptions {
  retryAfterS?: number;
  unlessDead?: boolean;
  audit?: string;
  auditData?: Record<string, unknown>;
  coalesce?: boolean;
  completes?: boolean;
}

/** A rejection about no nonce yet (before the lookup, or a nonce that does not exist). */
export function reject(code: ErrorCode, message: string): Rejection {
  return { rejected: code, message };
}

/** A rejection about a known nonce. */
export function refuse(subject: Subject, code: ErrorCode, message: string, opts?: RefuseOptions): Rejection {
  return opts === undefined ? { rejected: code, message, subject } : { rejected: code, message, subject, ...opts };
}

export function isRejection(v: object): v is Rejection {
  return (v as Partial<Rejection>).rejected !== undefined;
}
