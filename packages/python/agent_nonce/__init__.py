"""Agent Nonce for Python: issue a short-lived, scoped, audited nonce per agent task, hand only the nonce to the
agent, and let the gateway inject the real credential. Standard library only."""

from .approvals import Approval, ApprovalPage, Approvals
from .client import AgentNonce, Audit, Nonces, Services
from .errors import ERROR_CODES, AgentNonceError
from .nonce import Nonce, Response
from .types import AuditEvent, AuditPage, AuditRequest, NonceInfo, NoncePage

__all__ = [
    "ERROR_CODES",
    "AgentNonce",
    "AgentNonceError",
    "Approval",
    "ApprovalPage",
    "Approvals",
    "Audit",
    "AuditEvent",
    "AuditPage",
    "AuditRequest",
    "Nonce",
    "NonceInfo",
    "NoncePage",
    "Nonces",
    "Response",
    "Services",
]

__version__ = "0.1.0"
