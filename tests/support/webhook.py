"""A webhook receiver for pytest-httpserver that records every call, and an
independent verifier of driftwatch's HMAC signature (the one the README documents)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time

from werkzeug import Request, Response

__all__ = ["Receiver", "signature_ok", "the_signed_call"]


class Receiver:
    """Records every webhook call with its arrival time; answers 200."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, dict[str, str], bytes]] = []
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        with self.lock:
            self.calls.append((time.time(), dict(request.headers), request.get_data()))
        return Response("{}", status=200, content_type="application/json")

    def payloads(self, rule: str, event: str | None = None) -> list[tuple[float, dict[str, str], dict]]:
        """(arrival time, headers, JSON body) of each call for ``rule`` (and ``event``)."""
        found = []
        with self.lock:
            for at, headers, body in self.calls:
                payload = json.loads(body)
                if payload.get("rule") == rule and (event is None or payload.get("event") == event):
                    found.append((at, headers, payload))
        return found

    def wait_for(self, rule: str, event: str, timeout: float) -> list[tuple[float, dict[str, str], dict]]:
        """The calls for ``rule``/``event``, waiting up to ``timeout`` seconds for the first."""
        deadline = time.time() + timeout
        while time.time() < deadline and not self.payloads(rule, event):
            time.sleep(0.5)
        return self.payloads(rule, event)


def the_signed_call(receiver: Receiver, rule: str, event: str, secret: str) -> tuple[float, dict]:
    """(arrival time, payload) of the one notification for ``rule``/``event``: asserts
    that all its calls share one Idempotency-Key and that it is correctly signed."""
    calls = receiver.payloads(rule, event)
    assert len({headers["Idempotency-Key"] for _, headers, _ in calls}) == 1
    received_at, headers, payload = calls[0]
    body = next(body for _, h, body in receiver.calls if h["Idempotency-Key"] == headers["Idempotency-Key"])
    assert signature_ok(headers, body, secret)
    return received_at, payload


def signature_ok(headers: dict[str, str], body: bytes, secret: str) -> bool:
    timestamp = headers["X-Driftwatch-Timestamp"]
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["X-Driftwatch-Signature"], f"sha256={digest}")
