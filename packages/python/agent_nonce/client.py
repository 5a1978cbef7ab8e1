"""AgentNonce: the control-plane client (issue, list, revoke, audit)."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, Union, overload

from ._http import QueryValue, Transport
from .approvals import Approval, Approvals, wait_for_approval
from .nonce import Nonce
from .types import AuditEvent, AuditPage, NonceInfo, NoncePage

Ttl = Union[str, int]


def _seg(s: str) -> str:
    return urllib.parse.quote(s, safe="")


class Nonces:
    def __init__(self, t: Transport) -> None:
        self._t = t

    @overload
    def create(
        self,
        *,
        service: str,
        scope: str | Sequence[str],
        agent: str,
        ttl: Ttl | None = None,
        task: str | None = None,
        max_uses: int | None = None,
        rate: str | None = None,
        constraints: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        wait: Literal[True] = True,
        wait_timeout: float | None = None,
        poll_interval: float = 0.5,
    ) -> Nonce: ...

    @overload
    def create(
        self,
        *,
        service: str,
        scope: str | Sequence[str],
        agent: str,
        ttl: Ttl | None = None,
        task: str | None = None,
        max_uses: int | None = None,
        rate: str | None = None,
        constraints: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        wait: Literal[False],
        wait_timeout: float | None = None,
        poll_interval: float = 0.5,
    ) -> Nonce | Approval: ...

    def create(
        self,
        *,
        service: str,
        scope: str | Sequence[str],
        agent: str,
        ttl: Ttl | None = None,
        task: str | None = None,
        max_uses: int | None = None,
        rate: str | None = None,
        constraints: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        wait: bool = True,
        wait_timeout: float | None = None,
        poll_interval: float = 0.5,
    ) -> Nonce | Approval:
        """Issues a nonce for one task or step. Use it as a context manager (or call ``revoke()``) when done.

        When the issuer's policy needs a human approval (HTTP 202), waits for the decision, polling with backoff
        (``wait_timeout`` seconds, default the request's own deadline), and raises ``approval_denied`` or
        ``approval_expired``; with ``wait=False`` returns the pending ``Approval`` instead (collect its nonce
        later with ``wait_for_approval``).
        """
        body: dict[str, Any] = {
            "service": service,
            "scope": scope if isinstance(scope, str) else list(scope),
            "agent": agent,
        }
        for k, v in (
            ("ttl", ttl),
            ("task", task),
            ("max_uses", max_uses),
            ("rate", rate),
            ("constraints", dict(constraints) if constraints is not None else None),
            ("metadata", dict(metadata) if metadata is not None else None),
        ):
            if v is not None:
                body[k] = v
        w = self._t.request("POST", "/v1/nonces", json=body)
        pending = w.get("approval") if isinstance(w, dict) and "nonce" not in w else None
        if isinstance(pending, dict):
            approval = Approval.from_wire(pending)
            if not wait:
                return approval
            return self.wait_for_approval(approval, timeout=wait_timeout, poll_interval=poll_interval)
        return Nonce(w, self.revoke, self._t.timeout)

    def wait_for_approval(
        self, approval: Approval, *, timeout: float | None = None, poll_interval: float = 0.5
    ) -> Nonce:
        """Waits for a pending approval (e.g. one ``create(wait=False)`` returned) and returns its nonce."""
        w = wait_for_approval(self._t, approval, timeout=timeout, poll_interval=poll_interval)
        return Nonce(w, self.revoke, self._t.timeout)

    def get(self, id: str) -> NonceInfo:
        return NonceInfo.from_wire(self._t.request("GET", f"/v1/nonces/{_seg(id)}"))

    def list(
        self,
        *,
        agent: str | None = None,
        task: str | None = None,
        service: str | None = None,
        status: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> NoncePage:
        q: dict[str, QueryValue] = {
            "agent": agent,
            "task": task,
            "service": service,
            "status": status,
            "limit": limit,
            "cursor": cursor,
        }
        w = self._t.request("GET", "/v1/nonces", query=q)
        return NoncePage([NonceInfo.from_wire(n) for n in w.get("nonces") or []], w.get("next_cursor"))

    def iterate(self, **filters: Any) -> Iterator[NonceInfo]:
        """Every nonce matching the filters of ``list``, following ``next_cursor`` across pages."""
        cursor = filters.pop("cursor", None)
        while True:
            page = self.list(**filters, cursor=cursor)
            yield from page.nonces
            if not page.next_cursor or page.next_cursor == cursor:
                return
            cursor = page.next_cursor

    def revoke(self, id: str) -> None:
        self._t.request("DELETE", f"/v1/nonces/{_seg(id)}")

    def revoke_by(self, *, task: str | None = None, agent: str | None = None, service: str | None = None) -> int:
        """Revokes every live nonce matching all the given filters (at least one). Returns how many."""
        body = {k: v for k, v in (("task", task), ("agent", agent), ("service", service)) if v is not None}
        w = self._t.request("POST", "/v1/nonces/revoke", json=body)
        n = w.get("revoked") if isinstance(w, dict) else None
        return n if isinstance(n, int) else 0


class Audit:
    def __init__(self, t: Transport) -> None:
        self._t = t

    def query(
        self,
        *,
        agent: str | None = None,
        task: str | None = None,
        nonce: str | None = None,
        service: str | None = None,
        type: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> AuditPage:
        """One page of the audit trail (``nonce`` is a nonce id, ``nce_...``); pass ``next_cursor`` back for more."""
        q: dict[str, QueryValue] = {
            "agent": agent,
            "task": task,
            "nonce": nonce,
            "service": service,
            "type": type,
            "since": since,
            "until": until,
            "limit": limit,
            "cursor": cursor,
        }
        w = self._t.request("GET", "/v1/audit", query=q)
        return AuditPage([AuditEvent.from_wire(e) for e in w.get("events") or []], w.get("next_cursor"))

    def iterate(self, **filters: Any) -> Iterator[AuditEvent]:
        """Every event matching the filters of ``query``, across pages."""
        cursor = filters.pop("cursor", None)
        while True:
            page = self.query(**filters, cursor=cursor)
            yield from page.events
            if not page.next_cursor or page.next_cursor == cursor:
                return
            cursor = page.next_cursor


class Services:
    """Service administration (admin keys): enough to register a template and set its credential."""

    def __init__(self, t: Transport) -> None:
        self._t = t

    def put(
        self,
        name: str,
        *,
        template: str | None = None,
        upstream: str | None = None,
        auth: Mapping[str, Any] | None = None,
        scopes: Mapping[str, Sequence[str]] | None = None,
        insecure_upstream: bool | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if template is not None:
            body["template"] = template
        if upstream is not None:
            body["upstream"] = upstream
        if auth is not None:
            body["auth"] = dict(auth)
        if scopes is not None:
            body["scopes"] = {k: list(v) for k, v in scopes.items()}
        if insecure_upstream is not None:
            body["insecure_upstream"] = insecure_upstream
        result: dict[str, Any] = self._t.request("PUT", f"/v1/services/{_seg(name)}", json=body)
        return result

    def set_credential(self, name: str, secret: str) -> dict[str, Any]:
        """Write-only: the answer is a fingerprint, never the secret."""
        result: dict[str, Any] = self._t.request("PUT", f"/v1/services/{_seg(name)}/credential", json={"secret": secret})
        return result


class AgentNonce:
    """Client for the Agent Nonce control plane: ``AgentNonce("http://127.0.0.1:7070", "ank_...")``."""

    def __init__(self, base_url: str, api_key: str | None = None, *, timeout: float = 30.0) -> None:
        self._t = Transport(base_url, api_key, timeout)
        self.nonces = Nonces(self._t)
        self.audit = Audit(self._t)
        self.services = Services(self._t)
        self.approvals = Approvals(self._t)

    @property
    def base_url(self) -> str:
        return self._t.base_url

    def request(
        self, method: str, path: str, *, query: Mapping[str, QueryValue] | None = None, json: Any = None
    ) -> Any:
        """Any API call, JSON exactly as the API speaks it. Errors are still AgentNonceError; None for 204."""
        return self._t.request(method, path, query=query, json=json)

    def __repr__(self) -> str:
        return f"AgentNonce(base_url={self.base_url!r})"
