"""What the API answers, as dataclasses (snake_case, like the wire). Times are timezone-aware datetimes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


def parse_time(v: Any) -> datetime | None:
    if not isinstance(v, str):
        return None
    try:
        return datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return None


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _dict(v: Any) -> dict[str, Any] | None:
    return v if isinstance(v, dict) else None


@dataclass(frozen=True)
class NonceInfo:
    """A nonce's status, never its token."""

    id: str
    service: str
    scopes: list[str]
    agent: str
    task: str | None
    status: str
    uses: int
    max_uses: int | None
    rate: str | None
    created_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    metadata: dict[str, Any] | None = None

    @classmethod
    def from_wire(cls, w: dict[str, Any]) -> NonceInfo:
        return cls(
            id=str(w.get("id")),
            service=str(w.get("service")),
            scopes=list(w.get("scopes") or []),
            agent=str(w.get("agent")),
            task=_str(w.get("task")),
            status=str(w.get("status")),
            uses=_int(w.get("uses")) or 0,
            max_uses=_int(w.get("max_uses")),
            rate=_str(w.get("rate")),
            created_at=parse_time(w.get("created_at")),
            expires_at=parse_time(w.get("expires_at")),
            revoked_at=parse_time(w.get("revoked_at")),
            metadata=_dict(w.get("metadata")),
        )


@dataclass(frozen=True)
class NoncePage:
    nonces: list[NonceInfo]
    next_cursor: str | None


@dataclass(frozen=True)
class AuditRequest:
    method: str
    path: str
    status: int | None
    duration_ms: float | None
    bytes: int | None


@dataclass(frozen=True)
class AuditEvent:
    id: str
    seq: int | None
    time: datetime | None
    type: str
    actor: dict[str, Any] | None
    agent: str | None
    task: str | None
    nonce_id: str | None
    service: str | None
    scopes: list[str] | None
    reason: str | None
    request: AuditRequest | None
    source_ip: str | None
    data: dict[str, Any] | None
    prev_hash: str | None = field(default=None, repr=False)
    hash: str | None = field(default=None, repr=False)

    @classmethod
    def from_wire(cls, w: dict[str, Any]) -> AuditEvent:
        r = _dict(w.get("request"))
        dur = r.get("duration_ms") if r else None
        return cls(
            id=str(w.get("id")),
            seq=_int(w.get("seq")),
            time=parse_time(w.get("time")),
            type=str(w.get("type")),
            actor=_dict(w.get("actor")),
            agent=_str(w.get("agent")),
            task=_str(w.get("task")),
            nonce_id=_str(w.get("nonce_id")),
            service=_str(w.get("service")),
            scopes=list(w["scopes"]) if isinstance(w.get("scopes"), list) else None,
            reason=_str(w.get("reason")),
            request=AuditRequest(
                method=str(r.get("method")),
                path=str(r.get("path")),
                status=_int(r.get("status")),
                duration_ms=float(dur) if isinstance(dur, (int, float)) else None,
                bytes=_int(r.get("bytes")),
            )
            if r
            else None,
            source_ip=_str(w.get("source_ip")),
            data=_dict(w.get("data")),
            prev_hash=_str(w.get("prev_hash")),
            hash=_str(w.get("hash")),
        )


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEvent]
    next_cursor: str | None
