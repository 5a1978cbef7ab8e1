"""The one place the SDK talks HTTP (urllib): JSON in, JSON out, errors mapped to AgentNonceError."""

from __future__ import annotations

import json as jsonlib
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from typing import Any, Union

from .errors import AgentNonceError, error_from_body

QueryValue = Union[str, int, float, bool, datetime, None]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are handed back, never followed: urllib would carry the Authorization header to the new host."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect())


def safe_origin(url: str) -> str:
    """The URL without user info, query or fragment: what an error message may name."""
    p = urllib.parse.urlsplit(url)
    host = p.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{p.port}" if p.port else ""
    return f"{p.scheme}://{host}{port}{p.path}"


def check_base_url(url: str) -> str:
    p = urllib.parse.urlsplit(url)
    if p.scheme not in ("http", "https") or not p.hostname:
        raise AgentNonceError("invalid_request", "base_url must be an absolute http(s) URL")
    if p.username is not None or p.password is not None:
        # It would show up wherever the URL does (repr, messages); the API key goes in api_key.
        raise AgentNonceError("invalid_request", "base_url must not carry credentials (pass api_key instead)")
    return url.rstrip("/")


def encode_query(query: Mapping[str, QueryValue] | None) -> str:
    if not query:
        return ""
    pairs: list[tuple[str, str]] = []
    for k, v in query.items():
        if v is None or v == "":
            continue
        if isinstance(v, bool):
            pairs.append((k, "true" if v else "false"))
        elif isinstance(v, datetime):
            pairs.append((k, v.isoformat()))
        else:
            pairs.append((k, str(v)))
    return urllib.parse.urlencode(pairs)


@dataclass
class RawResponse:
    status: int
    headers: Message
    body: bytes = field(repr=False)


def send(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    body: bytes | None,
    timeout: float,
    what: str,
) -> RawResponse:
    """One HTTP exchange. Any status is a RawResponse; only a failure to talk to the server raises (unavailable).
    ``what`` names the target in error messages (never a URL with credentials or a query)."""
    req = urllib.request.Request(url, data=body, method=method, headers=dict(headers))
    try:
        with _OPENER.open(req, timeout=timeout) as res:
            return RawResponse(res.status, res.headers, res.read())
    except urllib.error.HTTPError as e:
        try:
            data = e.read()
        except OSError:
            data = b""
        return RawResponse(e.code, e.headers, data)
    except (socket.timeout, TimeoutError):
        raise AgentNonceError("unavailable", f"request to {what} timed out after {timeout:g} s") from None
    except urllib.error.URLError as e:
        reason = e.reason
        detail = type(reason).__name__ if isinstance(reason, BaseException) else "network error"
        raise AgentNonceError("unavailable", f"cannot reach {what} ({detail})") from None
    except OSError as e:
        raise AgentNonceError("unavailable", f"cannot reach {what} ({type(e).__name__})") from None


class Transport:
    """The control-plane client. The API key is kept out of ``repr`` and every message."""

    def __init__(self, base_url: str, api_key: str | None, timeout: float) -> None:
        self.base_url = check_base_url(base_url)
        self._api_key = api_key
        self.timeout = timeout
        self._what = safe_origin(self.base_url)

    def url(self, path: str, query: Mapping[str, QueryValue] | None = None) -> str:
        s = self.base_url + (path if path.startswith("/") else "/" + path)
        qs = encode_query(query)
        return f"{s}?{qs}" if qs else s

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, QueryValue] | None = None,
        json: Any = None,
    ) -> Any:
        """Sends a request and returns the parsed JSON (None for 204); raises AgentNonceError otherwise."""
        headers = {"accept": "application/json"}
        if self._api_key:
            headers["authorization"] = f"Bearer {self._api_key}"
        body = None
        if json is not None:
            headers["content-type"] = "application/json"
            body = jsonlib.dumps(json).encode()
        r = send(method, self.url(path, query), headers=headers, body=body, timeout=self.timeout, what=self._what)
        parsed: Any = None
        if r.body:
            try:
                parsed = jsonlib.loads(r.body)
            except ValueError:
                parsed = None
        if not 200 <= r.status < 300:
            raise error_from_body(r.status, parsed, f"{method} {path} failed with HTTP {r.status}")
        if r.body and parsed is None:
            raise AgentNonceError("internal", f"{method} {path} returned a body that is not JSON", status=r.status)
        return parsed
