"""A freshly issued nonce: the token for the agent, a gateway client, and revocation (also as a context manager)."""

from __future__ import annotations

import json as jsonlib
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from types import TracebackType
from typing import Any

from ._http import QueryValue, encode_query, safe_origin, send
from .errors import AgentNonceError, code_for_status, error_from_body
from .types import parse_time

_DEFAULT_TIMEOUT = 30.0


@dataclass
class Response:
    """An answer through the gateway: from the upstream, or the gateway's own refusal (``error_code`` set)."""

    status: int
    headers: Message
    body: bytes = field(repr=False)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return jsonlib.loads(self.body)

    @property
    def error_code(self) -> str | None:
        """The gateway's code (``scope_denied``, ``nonce_expired``, ...) when the gateway refused; else None."""
        return self.headers.get("x-agent-nonce-error")

    def raise_for_status(self) -> Response:
        """Raises AgentNonceError for a gateway refusal or an upstream error status; returns self otherwise."""
        if self.error_code is not None:
            try:
                parsed = self.json()
            except ValueError:
                parsed = None
            err = error_from_body(self.status, parsed, f"the gateway refused the request (HTTP {self.status})")
            err.code = self.error_code
            raise err
        if self.status >= 400:
            raise AgentNonceError(code_for_status(self.status), f"the upstream answered HTTP {self.status}", status=self.status)
        return self


class Nonce:
    """``nonce`` is the ``an_...`` token to hand to the agent; everything else is safe to log. ``repr`` and ``str``
    never show the token. ``with an.nonces.create(...) as n:`` revokes it when the block ends."""

    def __init__(self, w: dict[str, Any], revoke: Callable[[str], None], timeout: float = _DEFAULT_TIMEOUT) -> None:
        self.id: str = str(w.get("id"))
        self.service: str = str(w.get("service"))
        self.scopes: tuple[str, ...] = tuple(w.get("scopes") or ())
        self.agent: str = str(w.get("agent"))
        self.task: str | None = w.get("task") if isinstance(w.get("task"), str) else None
        self.max_uses: int | None = w.get("max_uses") if isinstance(w.get("max_uses"), int) else None
        expires = parse_time(w.get("expires_at"))
        if expires is None:
            raise AgentNonceError("internal", "the server returned a nonce without expires_at")
        self.expires_at: datetime = expires
        gateway = w.get("gateway_url")
        self.gateway_url: str = gateway.rstrip("/") if isinstance(gateway, str) else ""
        self.__token: str = str(w.get("nonce"))
        self.__revoke = revoke
        self.__timeout = timeout
        self._revoked = False

    @property
    def nonce(self) -> str:
        """The ``an_...`` token. Give it to the agent (or an official SDK as its API key); never log it."""
        return self.__token

    @property
    def revoked(self) -> bool:
        return self._revoked

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, QueryValue] | None = None,
        json: Any = None,
        data: bytes | str | Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Response:
        """One request through the gateway with ``Authorization: Bearer <nonce>``. Gateway refusals are returned
        (``error_code`` set), not raised: call ``raise_for_status()`` for that. Redirects are not followed."""
        if not self.gateway_url:
            raise AgentNonceError("invalid_request", "the server returned no usable gateway_url")
        if json is not None and data is not None:
            raise AgentNonceError("invalid_request", "pass json or data, not both")
        h = {k.lower(): v for k, v in (headers or {}).items()}
        h["authorization"] = f"Bearer {self.__token}"
        body: bytes | None = None
        if json is not None:
            body = jsonlib.dumps(json).encode()
            h.setdefault("content-type", "application/json")
        elif isinstance(data, Mapping):
            body = urllib.parse.urlencode(data).encode()
            h.setdefault("content-type", "application/x-www-form-urlencoded")
        elif isinstance(data, str):
            body = data.encode()
        elif data is not None:
            body = bytes(data)
        url = self.gateway_url + (path if path.startswith("/") else "/" + path)
        qs = encode_query(query)
        if qs:
            url += ("&" if "?" in url else "?") + qs
        r = send(
            method.upper(),
            url,
            headers=h,
            body=body,
            timeout=self.__timeout if timeout is None else timeout,
            what=f"the gateway at {safe_origin(self.gateway_url)}",
        )
        return Response(r.status, r.headers, r.body)

    def revoke(self) -> None:
        """Revokes the nonce. Idempotent: once it succeeded, later calls send nothing."""
        if self._revoked:
            return
        self.__revoke(self.id)
        self._revoked = True

    def __enter__(self) -> Nonce:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.revoke()
        except AgentNonceError:
            # The block's own exception matters more; a failed revoke is raised only when there is none.
            if exc is None:
                raise

    def __repr__(self) -> str:
        return (
            f"Nonce(id={self.id!r}, service={self.service!r}, scopes={list(self.scopes)!r}, agent={self.agent!r}, "
            f"task={self.task!r}, expires_at={self.expires_at.isoformat()!r}, gateway_url={self.gateway_url!r}, "
            "nonce='[redacted]')"
        )

    __str__ = __repr__

    def __reduce__(self) -> Any:
        # Pickling would write the token somewhere: refused.
        raise TypeError("a Nonce cannot be pickled (it holds a live credential)")
