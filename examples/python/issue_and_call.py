"""Issue a nonce for one task, call the API through the gateway with it, and let the block revoke it.

    AGENT_NONCE_URL=http://127.0.0.1:7070 AGENT_NONCE_API_KEY=ank_... EXAMPLE_SERVICE=things \\
        PYTHONPATH=packages/python python3 examples/python/issue_and_call.py

EXAMPLE_SERVICE names a service with a `read:things` scope (GET /v1/things...), e.g. the one the Python SDK's tests
register. Only the SDK is used (standard library only).
"""

from __future__ import annotations

import os
import sys

from agent_nonce import AgentNonce, AgentNonceError


def main() -> int:
    an = AgentNonce(os.environ["AGENT_NONCE_URL"], os.environ["AGENT_NONCE_API_KEY"])
    service = os.environ.get("EXAMPLE_SERVICE", "things")
    try:
        with an.nonces.create(service=service, scope="read:things", ttl="2m", agent="example-bot", task="example-1") as n:
            print(f"issued {n.id} for {n.service}, expires {n.expires_at.isoformat()}")
            r = n.request("GET", "/v1/things", query={"limit": 3})
            print(f"GET /v1/things -> status {r.status}")
            denied = n.request("POST", "/v1/things", json={"name": "x"})
            print(f"POST /v1/things -> refused: {denied.error_code}")
        print(f"after the block: {an.nonces.get(n.id).status}")
        for e in an.audit.iterate(task="example-1", limit=50):
            print(f"  {e.type:16} {e.reason or '':14} {e.request.method + ' ' + e.request.path if e.request else ''}")
    except AgentNonceError as e:
        print(f"error {e.code} (HTTP {e.status}): {e.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
