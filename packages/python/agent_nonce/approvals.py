"""Human approvals (docs/api.md "Approvals").

When an issuer policy rule needs a human decision, ``POST /v1/nonces`` answers 202 with a pending approval; the
requester polls it until it is decided. The first read after approval carries the nonce, once:
``wait_for_approval`` is the one place that collects it.
"""

from __future__ import annotations

import time
import urllib.parse
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ._http import Transport
from .errors import AgentNonceError
from .types import parse_time

_MAX_WAIT_S = 24 * 3600.0


@dataclass(frozen=True)
class Approval:
    """A request for a nonce that waits for a human decision. Never carries a token."""

    id: str
    status: str
    service: str
    agent: str
    task: str | None
    scopes: list[str]
    ttl_s: int
    requested_by: str
    created_at: datetime | None
    expires_at: datetime | None
    decided_at: datetime | None
    decided_by: str | None
    comment: str | None
    nonce_id: str | None

    @classmethod
    def from_wire(cls, w: dict[str, Any]) -> Approval:
        task, by, comment, nonce_id = (w.get(k) for k in ("task", "decided_by", "comment", "nonce_id"))
        ttl = w.get("ttl_s")
        return cls(
            id=str(w.get("id")),
            status=str(w.get("status")),
            service=str(w.get("service")),
            agent=str(w.get("agent")),
            task=task if isinstance(task, str) else None,
            scopes=list(w.get("scopes") or []),
            ttl_s=ttl if isinstance(ttl, int) and not isinstance(ttl, bool) else 0,
            requested_by=str(w.get("requested_by")),
            created_at=parse_time(w.get("created_at")),
            expires_at=parse_time(w.get("expires_at")),
            decided_at=parse_time(w.get("decided_at")),
            decided_by=by if isinstance(by, str) else None,
            comment=comment if isinstance(comment, str) else None,
            nonce_id=nonce_id if isinstance(nonce_id, str) else None,
        )


@dataclass(frozen=True)
class ApprovalPage:
    approvals: list[Approval]
    next_cursor: str | None


def _path(id: str, *rest: str) -> str:
    return "/".join(["/v1/approvals", urllib.parse.quote(id, safe=""), *rest])


def wait_for_approval(
    t: Transport,
    first: Approval,
    *,
    timeout: float | None = None,
    poll_interval: float = 0.5,
    max_poll_interval: float = 5.0,
) -> dict[str, Any]:
    """Polls the approval with backoff until it is decided; returns the issued nonce's wire body.

    Raises ``approval_denied`` or ``approval_expired`` (also when ``timeout`` seconds end the wait while it is still
    pending: ``details["pending"]`` is then True) and ``conflict`` when its nonce was already collected. The default
    timeout is the request's own deadline (plus 2 s), at most 24 h.
    """
    started = time.monotonic()
    if timeout is None:
        left_s = first.expires_at.timestamp() - time.time() if first.expires_at else 0.0
        timeout = max(0.0, left_s) + 2.0
    timeout = min(timeout, _MAX_WAIT_S)
    delay = poll_interval
    while True:
        w = t.request("GET", _path(first.id))
        a = w.get("approval") if isinstance(w, dict) else None
        a = a if isinstance(a, dict) else {}
        details = {"approval_id": first.id, "comment": a.get("comment")}
        status = a.get("status")
        if status == "approved":
            nonce = a.get("nonce")
            if isinstance(nonce, dict):
                return nonce
            raise AgentNonceError("conflict", f"approval {first.id}: its nonce was already collected", details=details)
        if status == "denied":
            raise AgentNonceError("approval_denied", f"approval {first.id} was denied", status=403, details=details)
        if status == "expired":
            raise AgentNonceError("approval_expired", f"approval {first.id} expired unanswered", details=details)
        left = timeout - (time.monotonic() - started)
        if left <= 0:
            raise AgentNonceError(
                "approval_expired",
                f"approval {first.id}: still pending when the wait ended",
                details={**details, "pending": True},
            )
        time.sleep(min(delay, left))
        delay = min(max_poll_interval, delay * 1.5)


class Approvals:
    """Reading and deciding approval requests (an ``approver`` key decides; a requester reads its own)."""

    def __init__(self, t: Transport) -> None:
        self._t = t

    def get(self, id: str) -> Approval:
        w = self._t.request("GET", _path(id))
        return Approval.from_wire(w.get("approval") or {})

    def list(self, *, status: str | None = None, limit: int | None = None, cursor: str | None = None) -> ApprovalPage:
        """Newest first; an issuer key sees only its own requests. Pass ``next_cursor`` back for more."""
        w = self._t.request("GET", "/v1/approvals", query={"status": status, "limit": limit, "cursor": cursor})
        return ApprovalPage([Approval.from_wire(a) for a in w.get("approvals") or []], w.get("next_cursor"))

    def approve(self, id: str, comment: str | None = None) -> Approval:
        return self._decide(id, "approve", comment)

    def deny(self, id: str, comment: str | None = None) -> Approval:
        return self._decide(id, "deny", comment)

    def _decide(self, id: str, what: str, comment: str | None) -> Approval:
        body = {"comment": comment} if comment is not None else {}
        w = self._t.request("POST", _path(id, what), json=body)
        return Approval.from_wire(w.get("approval") or {})
