"""AgentNonceError: every failure the SDK reports, with the API's stable ``code``."""

from __future__ import annotations

import re
from typing import Any, Final

#: The stable error codes of the Agent Nonce API (a copy of the server's union; the server's tests compare them).
ERROR_CODES: Final[tuple[str, ...]] = (
    # control plane
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
    # gateway
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
)

_KNOWN = frozenset(ERROR_CODES)

# Nonces (an_...) and API keys (ank_...): the server never puts them in a message; this makes sure of it.
_TOKEN = re.compile(r"\b(?:an|ank)_[A-Za-z0-9]{16,}")


def redact(text: str) -> str:
    """Replaces anything shaped like a nonce or an API key."""
    return _TOKEN.sub("[redacted]", text)


class AgentNonceError(Exception):
    """A failed call. ``code`` is stable (compare it), ``status`` is the HTTP status (0 when the server could not
    be reached), ``request_id`` the server's id for the request. The message never carries a token or a secret."""

    code: str
    status: int
    request_id: str | None
    details: dict[str, Any] | None

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int = 0,
        request_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.code = code
        self.message = redact(message)
        self.status = status
        self.request_id = request_id
        self.details = details
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def __repr__(self) -> str:
        return f"AgentNonceError(code={self.code!r}, status={self.status}, request_id={self.request_id!r})"


def code_for_status(status: int) -> str:
    """Best guess at a code when an error answer carries no JSON error body (a proxy in between, say)."""
    table = {
        400: "invalid_request",
        401: "unauthenticated",
        403: "forbidden",
        404: "not_found",
        409: "conflict",
        413: "payload_too_large",
        422: "invalid_request",
        429: "rate_limited",
        431: "headers_too_large",
        502: "upstream_error",
        503: "unavailable",
        504: "upstream_timeout",
    }
    if status in table:
        return table[status]
    return "internal" if status >= 500 else "invalid_request"


def error_from_body(status: int, body: Any, fallback: str) -> AgentNonceError:
    """Builds the error from an API error body ``{"error": {"code", "message", "request_id"}}``."""
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        code = err.get("code")
        message = err.get("message")
        request_id = err.get("request_id")
        details = err.get("details")
        return AgentNonceError(
            code if isinstance(code, str) and code in _KNOWN else code_for_status(status),
            message if isinstance(message, str) else fallback,
            status=status,
            request_id=request_id if isinstance(request_id, str) else None,
            details=details if isinstance(details, dict) else None,
        )
    return AgentNonceError(code_for_status(status), fallback, status=status)
