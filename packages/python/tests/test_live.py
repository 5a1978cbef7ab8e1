"""The SDK against a real Agent Nonce server and a fake upstream, both started by src/e2e/python-sdk.test.ts
(``npm test``), which passes their addresses and keys in the environment:

- AGENT_NONCE_URL, AGENT_NONCE_API_KEY: the control plane and an admin key
- AGENT_NONCE_TEST_UPSTREAM, AGENT_NONCE_TEST_SECRET: the fake upstream (it echoes what it received) and the
  credential it expects
"""

from __future__ import annotations

import os
import pickle
import socket
import threading
import time
import unittest
import uuid
from datetime import datetime, timezone

from agent_nonce import AgentNonce, AgentNonceError, Approval, AuditEvent, Nonce, NonceInfo

ENV = ("AGENT_NONCE_URL", "AGENT_NONCE_API_KEY", "AGENT_NONCE_TEST_UPSTREAM", "AGENT_NONCE_TEST_SECRET")
SERVICE = "things"


def setUpModule() -> None:
    missing = [k for k in ENV if not os.environ.get(k)]
    if missing:
        raise unittest.SkipTest(f"needs a running server (run through npm test): {', '.join(missing)} unset")
    an = AgentNonce(os.environ["AGENT_NONCE_URL"], os.environ["AGENT_NONCE_API_KEY"])
    an.services.put(
        SERVICE,
        upstream=os.environ["AGENT_NONCE_TEST_UPSTREAM"],
        insecure_upstream=True,
        auth={"type": "bearer"},
        scopes={"read:things": ["GET /v1/things", "GET /v1/things/{id}"], "write:things": ["POST /v1/things"]},
    )
    an.services.set_credential(SERVICE, os.environ["AGENT_NONCE_TEST_SECRET"])


class LiveTest(unittest.TestCase):
    an: AgentNonce
    secrets: list[str]

    def setUp(self) -> None:
        self.an = AgentNonce(os.environ["AGENT_NONCE_URL"], os.environ["AGENT_NONCE_API_KEY"])
        self.task = f"task-{uuid.uuid4().hex[:8]}"
        self.secrets = [os.environ["AGENT_NONCE_API_KEY"], os.environ["AGENT_NONCE_TEST_SECRET"]]

    def issue(self, scope: str | list[str] = "read:things", **kw: object) -> Nonce:
        n = self.an.nonces.create(service=SERVICE, scope=scope, agent="py-agent", task=self.task, **kw)  # type: ignore[arg-type]
        self.secrets.append(n.nonce)
        return n

    def assert_no_secret(self, text: str) -> None:
        for s in self.secrets:
            self.assertNotIn(s, text)


class NonceLifecycle(LiveTest):
    def test_create_and_request_through_the_gateway(self) -> None:
        n = self.issue(ttl="2m", max_uses=5)
        self.assertTrue(n.id.startswith("nce_"))
        self.assertTrue(n.nonce.startswith("an_"))
        self.assertEqual(n.service, SERVICE)
        self.assertEqual(n.task, self.task)
        self.assertEqual(n.max_uses, 5)
        self.assertIsNotNone(n.expires_at.tzinfo)
        self.assertGreater(n.expires_at, datetime.now(timezone.utc))
        self.assertTrue(n.gateway_url.startswith("http://127.0.0.1:"))
        r = n.request("GET", "/v1/things/th_1", query={"expand": "owner", "n": 2})
        self.assertEqual(r.status, 200, r.text)
        self.assertIsNone(r.error_code)
        echo = r.json()
        self.assertEqual(echo["path"], "/v1/things/th_1")
        self.assertEqual(echo["query"], "expand=owner&n=2")
        # The upstream got the service's credential, never the nonce.
        self.assertTrue(echo["authorized"])
        self.assertFalse(echo["saw_nonce"])
        self.assertIs(r.raise_for_status(), r)

        w = self.issue("write:things")
        posted = w.request("POST", "/v1/things", json={"name": "café"}).raise_for_status().json()
        self.assertEqual(posted["body"], '{"name": "caf\\u00e9"}')
        self.assertEqual(posted["content_type"], "application/json")
        form = w.request("POST", "/v1/things", data={"a": "1", "b": "x y"}).json()
        self.assertEqual(form["body"], "a=1&b=x+y")
        self.assertEqual(form["content_type"], "application/x-www-form-urlencoded")

    def test_scope_denied_by_the_gateway(self) -> None:
        n = self.issue()
        r = n.request("POST", "/v1/things", json={"x": 1})
        self.assertEqual(r.status, 403)
        self.assertEqual(r.error_code, "scope_denied")
        with self.assertRaises(AgentNonceError) as cm:
            r.raise_for_status()
        e = cm.exception
        self.assertEqual(e.code, "scope_denied")
        self.assertEqual(e.status, 403)
        self.assertTrue((e.request_id or "").startswith("req_"))
        self.assert_no_secret(str(e) + repr(e) + e.message)

    def test_revoke_is_idempotent_and_ends_the_nonce(self) -> None:
        n = self.issue()
        self.assertEqual(n.request("GET", "/v1/things").status, 200)
        n.revoke()
        n.revoke()
        self.assertTrue(n.revoked)
        r = n.request("GET", "/v1/things")
        self.assertEqual((r.status, r.error_code), (401, "nonce_revoked"))
        info = self.an.nonces.get(n.id)
        self.assertIsInstance(info, NonceInfo)
        self.assertEqual(info.status, "revoked")
        self.assertEqual(info.uses, 1)
        self.assertIsNotNone(info.revoked_at)

    def test_context_manager_revokes_on_exit_even_when_the_block_raises(self) -> None:
        with self.issue() as n:
            self.assertEqual(n.request("GET", "/v1/things").status, 200)
        self.assertEqual(self.an.nonces.get(n.id).status, "revoked")

        with self.assertRaises(ZeroDivisionError):
            with self.issue() as m:
                _ = 1 / 0
        self.assertEqual(self.an.nonces.get(m.id).status, "revoked")
        self.assertEqual(m.request("GET", "/v1/things").error_code, "nonce_revoked")

    def test_list_and_revoke_by_task(self) -> None:
        a, b = self.issue(), self.issue()
        page = self.an.nonces.list(task=self.task, status="active")
        self.assertEqual({x.id for x in page.nonces}, {a.id, b.id})
        one = self.an.nonces.list(task=self.task, limit=1)
        self.assertEqual(len(one.nonces), 1)
        self.assertIsNotNone(one.next_cursor)
        self.assertEqual({x.id for x in self.an.nonces.iterate(task=self.task, limit=1)}, {a.id, b.id})
        self.assertEqual(self.an.nonces.revoke_by(task=self.task), 2)
        self.assertEqual(self.an.nonces.revoke_by(task=self.task), 0)
        self.assertEqual(self.an.nonces.list(task=self.task, status="active").nonces, [])


class AuditTrail(LiveTest):
    def test_query_with_cursor_pagination(self) -> None:
        n = self.issue()
        n.request("GET", "/v1/things/a")
        n.request("DELETE", "/v1/things/a")
        n.revoke()
        types: list[str] = []
        cursor: str | None = None
        pages = 0
        while True:
            page = self.an.audit.query(nonce=n.id, limit=1, cursor=cursor)
            pages += 1
            types += [e.type for e in page.events]
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        self.assertGreaterEqual(pages, 4)
        for t in ("nonce.issued", "nonce.used", "nonce.rejected", "nonce.revoked"):
            self.assertIn(t, types)
        rejected = self.an.audit.query(nonce=n.id, type="nonce.rejected").events
        self.assertEqual(len(rejected), 1)
        e = rejected[0]
        self.assertIsInstance(e, AuditEvent)
        self.assertEqual((e.reason, e.agent, e.task, e.nonce_id), ("scope_denied", "py-agent", self.task, n.id))
        self.assertEqual(e.request.method if e.request else None, "DELETE")
        # iterate follows every cursor: each event once, the same set as the one-page query.
        ids = [x.id for x in self.an.audit.iterate(task=self.task, limit=2)]
        self.assertEqual(len(ids), len(set(ids)))
        self.assertEqual(set(ids), {x.id for x in self.an.audit.query(task=self.task, limit=100).events})
        # Nothing in the trail carries a token or a secret.
        self.assert_no_secret(repr(list(self.an.audit.iterate(task=self.task))))


class Errors(LiveTest):
    def test_unauthenticated_key_never_in_the_message(self) -> None:
        bad = f"ank_{uuid.uuid4().hex}{uuid.uuid4().hex}"
        self.secrets.append(bad)
        with self.assertRaises(AgentNonceError) as cm:
            AgentNonce(os.environ["AGENT_NONCE_URL"], bad).nonces.list()
        e = cm.exception
        self.assertEqual((e.code, e.status), ("unauthenticated", 401))
        self.assertTrue((e.request_id or "").startswith("req_"))
        self.assert_no_secret(str(e) + repr(e))

    def test_api_error_codes(self) -> None:
        with self.assertRaises(AgentNonceError) as cm:
            self.an.nonces.create(service=SERVICE, scope="delete:everything", agent="py-agent")
        self.assertEqual((cm.exception.code, cm.exception.status), ("scope_unknown", 422))
        with self.assertRaises(AgentNonceError) as cm:
            self.an.nonces.create(service="no-such-service", scope="read", agent="py-agent")
        self.assertEqual(cm.exception.code, "service_not_found")
        with self.assertRaises(AgentNonceError) as cm:
            self.an.nonces.get("nce_does_not_exist")
        self.assertIn(cm.exception.code, ("nonce_not_found", "not_found", "invalid_request"))
        with self.assertRaises(AgentNonceError) as cm:
            self.an.nonces.revoke_by()
        self.assertEqual(cm.exception.code, "invalid_request")

    def test_gateway_rejects_a_bad_nonce(self) -> None:
        n = self.issue()
        r = n.request("GET", "/v1/things/../admin")
        self.assertEqual((r.status, r.error_code), (400, "bad_request"))

    def test_unreachable_server_is_unavailable_and_names_no_credential(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        key = os.environ["AGENT_NONCE_API_KEY"]
        with self.assertRaises(AgentNonceError) as cm:
            AgentNonce(f"http://user:{key}@127.0.0.1:{port}", key)
        self.assertEqual(cm.exception.code, "invalid_request")
        self.assert_no_secret(str(cm.exception))
        an = AgentNonce(f"http://127.0.0.1:{port}", key, timeout=5)
        with self.assertRaises(AgentNonceError) as cm:
            an.nonces.list(task="t")
        e = cm.exception
        self.assertEqual((e.code, e.status), ("unavailable", 0))
        self.assertIn(f"127.0.0.1:{port}", str(e))
        self.assertIsNone(e.__cause__)
        self.assert_no_secret(str(e) + repr(e) + repr(an))

    def test_no_token_in_reprs_and_no_pickling(self) -> None:
        n = self.issue()
        self.assert_no_secret(repr(n) + str(n) + repr(self.an))
        self.assertIn("[redacted]", repr(n))
        with self.assertRaises(TypeError):
            pickle.dumps(n)
        with self.assertRaises(AgentNonceError) as cm:
            AgentNonce("ftp://example.test", "k")
        self.assertEqual(cm.exception.code, "invalid_request")
        # A server message carrying something token-shaped is redacted anyway.
        self.assertNotIn(n.nonce, str(AgentNonceError("internal", f"echo {n.nonce}")))


class Approvals(LiveTest):
    """An issuer whose policy needs a human approval, and an approver key deciding (docs/api.md "Approvals")."""

    requester: AgentNonce
    approver: AgentNonce

    def setUp(self) -> None:
        super().setUp()
        tag = uuid.uuid4().hex[:8]
        rule = {"service": SERVICE, "scopes": ["read:things"], "approval": {"required": True, "timeout": "10m"}}
        req = self.an.request(
            "POST", "/v1/keys", json={"name": f"py-orchestrator-{tag}", "role": "issuer", "policy": {"allow": [rule]}}
        )
        app = self.an.request("POST", "/v1/keys", json={"name": f"py-on-call-{tag}", "role": "approver"})
        self.secrets += [req["key"], app["key"]]
        url = os.environ["AGENT_NONCE_URL"]
        self.requester = AgentNonce(url, req["key"])
        self.approver = AgentNonce(url, app["key"])

    def ask(self, **kw: object) -> object:
        return self.requester.nonces.create(  # type: ignore[call-overload]
            service=SERVICE, scope="read:things", agent="py-agent", task=self.task, ttl="2m", **kw
        )

    def pending_for_task(self) -> Approval:
        """The approver's view of this test's pending request, once it is listed."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for a in self.approver.approvals.list(status="pending").approvals:
                if a.task == self.task:
                    return a
            time.sleep(0.02)
        self.fail("the pending approval never appeared")

    def test_wait_false_returns_the_pending_approval_and_a_denial_reaches_the_requester(self) -> None:
        pending = self.ask(wait=False)
        self.assertIsInstance(pending, Approval)
        assert isinstance(pending, Approval)
        self.assertEqual((pending.status, pending.service, pending.scopes), ("pending", SERVICE, ["read:things"]))
        self.assertIsNone(pending.nonce_id)
        denied = self.approver.approvals.deny(pending.id, "not today")
        self.assertEqual((denied.status, denied.comment), ("denied", "not today"))
        with self.assertRaises(AgentNonceError) as cm:
            self.requester.nonces.wait_for_approval(pending, poll_interval=0.01)
        self.assertEqual((cm.exception.code, cm.exception.status), ("approval_denied", 403))
        self.assertEqual((cm.exception.details or {}).get("comment"), "not today")

    def test_create_waits_for_the_approval_and_returns_a_working_nonce(self) -> None:
        got: list[object] = []
        waiter = threading.Thread(target=lambda: got.append(self.ask(poll_interval=0.01, wait_timeout=30)))
        waiter.start()
        a = self.pending_for_task()
        approved = self.approver.approvals.approve(a.id, "ok for the demo")
        waiter.join(30)
        self.assertFalse(waiter.is_alive())
        self.assertEqual(len(got), 1)
        n = got[0]
        assert isinstance(n, Nonce)
        self.secrets.append(n.nonce)
        self.assertEqual(n.id, self.approver.approvals.get(a.id).nonce_id)
        self.assertEqual(approved.status, "approved")
        self.assertEqual(n.request("GET", "/v1/things").status, 200)
        # The approver's views never carry the token; the requester collects it once.
        self.assert_no_secret(repr(self.approver.request("GET", f"/v1/approvals/{a.id}")))
        with self.assertRaises(AgentNonceError) as cm:
            self.requester.nonces.wait_for_approval(a, poll_interval=0.01)
        self.assertEqual(cm.exception.code, "conflict")

    def test_a_wait_that_ends_while_pending_is_approval_expired_with_pending_set(self) -> None:
        with self.assertRaises(AgentNonceError) as cm:
            self.ask(wait_timeout=0.2, poll_interval=0.05)
        self.assertEqual(cm.exception.code, "approval_expired")
        self.assertIs((cm.exception.details or {}).get("pending"), True)
        self.approver.approvals.deny(self.pending_for_task().id)


if __name__ == "__main__":
    unittest.main()
