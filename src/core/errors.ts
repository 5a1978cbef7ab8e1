/**
 * One error root with a stable `code` from a single union. Expected failures (a bad request, an expired nonce)
 * are values or AppErrors; bugs and I/O failures are plain exceptions and surface as `internal`/`unavailable`.
 * HTTP status is mapped in exactly one place: `httpStatus()`.
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

export function httpStatus(code: ErrorCode): number {
  switch (code) {
    case "invalid_request":
    case "bad_request":
      return 400;
    case "unauthenticated":
    case "nonce_missing":
    case "nonce_invalid":
    case "nonce_expired":
    case "nonce_revoked":
    case "nonce_exhausted":
      return 401;
    case "forbidden":
    case "approval_denied":
    case "delegation_denied":
    case "delegation_too_deep":
    case "scope_denied":
    case "constraint_failed":
      return 403;
    case "not_found":
    case "service_not_found":
    case "nonce_not_found":
    case "key_not_found":
    case "template_not_found":
    case "trust_not_found":
    case "approval_not_found":
      return 404;
    case "conflict":
    case "approval_expired":
    case "credential_missing":
      return 409;
    case "payload_too_large":
      return 413;
    case "scope_unknown":
    case "pattern_unsupported":
      return 422;
    case "rate_limited":
      return 429;
    case "headers_too_large":
      return 431;
    case "internal":
      return 500;
    case "upstream_error":
    case "response_blocked":
    case "credential_unavailable":
      return 502;
    case "unavailable":
      return 503;
    case "upstream_timeout":
      return 504;
  }
}

export class AppError extends Error {
  override readonly name = "AppError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
  get status(): number {
    return httpStatus(this.code);
  }
}

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}

/** The one JSON error body used by the control plane and the gateway. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; request_id: string; details?: Record<string, unknown> };
}

export function errorBody(
  code: ErrorCode,
  message: string,
  requestId: string,
  details?: Record<string, unknown>,
): ErrorBody {
  return {
    error: details ? { code, message, request_id: requestId, details } : { code, message, request_id: requestId },
  };
}
