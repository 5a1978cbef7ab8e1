/**
 * The stable error codes of the Agent Nonce API. The SDK cannot import server code, so this list is a copy of
 * the server's union (src/core/errors.ts); a server-side test asserts the two stay equal.
 */
export const ERROR_CODES = [
  // control plane
  "invalid_request",
  "unauthenticated",
  "forbidden",
  "not_found",
  "service_not_found",
  "nonce_not_found",
  "key_not_found",
  "template_not_found",
  "trust_not_found",
  "scope_unknown",
  "pattern_unsupported",
  "credential_missing",
  "conflict",
  "payload_too_large",
  "rate_limited",
  "internal",
  "unavailable",
  "approval_not_found",
  "approval_denied",
  "approval_expired",
  "delegation_denied",
  "delegation_too_deep",
  // gateway
  "nonce_missing",
  "nonce_invalid",
  "nonce_expired",
  "nonce_revoked",
  "nonce_exhausted",
  "scope_denied",
  "constraint_failed",
  "bad_request",
  "headers_too_large",
  "upstream_error",
  "upstream_timeout",
  "response_blocked",
  "credential_unavailable",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const KNOWN = new Set<string>(ERROR_CODES);

export function isErrorCode(v: unknown): v is ErrorCode {
  return typeof v === "string" && KNOWN.has(v);
}

/**
 * Every failure the SDK reports. `code` is stable (switch on it); `status` is the HTTP status, or 0 when the
 * server could not be reached. Messages come from the server, which never puts a token or secret in them.
 */
export class AgentNonceError extends Error {
  override readonly name = "AgentNonceError";
  readonly code: ErrorCode;
  readonly status: number;
  readonly requestId: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { status?: number; requestId?: string | undefined; details?: Record<string, unknown> | undefined } = {},
  ) {
    super(message);
    this.code = code;
    this.status = opts.status ?? 0;
    this.requestId = opts.requestId;
    this.details = opts.details;
  }

  override toString(): string {
    return `${this.name}: ${this.code}: ${this.message}`;
  }
}

export function isAgentNonceError(e: unknown): e is AgentNonceError {
  return e instanceof AgentNonceError;
}

/** Best guess at a code when an error response carries no JSON error body (a proxy in between, say). */
export function codeForStatus(status: number): ErrorCode {
  if (status === 400) return "invalid_request";
  if (status === 401) return "unauthenticated";
  if (status === 403) return "forbidden";
  if (status === 404) return "not_found";
  if (status === 409) return "conflict";
  if (status === 413) return "payload_too_large";
  if (status === 422) return "invalid_request";
  if (status === 429) return "rate_limited";
  if (status === 431) return "headers_too_large";
  if (status === 502) return "upstream_error";
  if (status === 503) return "unavailable";
  if (status === 504) return "upstream_timeout";
  return status >= 500 ? "internal" : "invalid_request";
}

/** Builds an AgentNonceError from an API error body `{"error":{"code","message","request_id"}}`. */
export function errorFromBody(status: number, body: unknown, fallbackMessage: string): AgentNonceError {
  const err = (body as { error?: unknown } | null)?.error;
  if (err && typeof err === "object") {
    const e = err as { code?: unknown; message?: unknown; request_id?: unknown; details?: unknown };
    const code = isErrorCode(e.code) ? e.code : codeForStatus(status);
    const message = typeof e.message === "string" ? e.message : fallbackMessage;
    return new AgentNonceError(code, message, {
      status,
      requestId: typeof e.request_id === "string" ? e.request_id : undefined,
      details: e.details && typeof e.details === "object" ? (e.details as Record<string, unknown>) : undefined,
    });
  }
  return new AgentNonceError(codeForStatus(status), fallbackMessage, { status });
}
