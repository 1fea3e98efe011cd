"""The one webhook receiver of the tests (Slack and webhook channels alike), on
pytest-httpserver, and an independent verifier of driftwatch's HMAC signature (the
one the README documents).

``Receiver(httpserver, "/hook")`` records every request to its path and answers the
next scripted status (:meth:`Receiver.answer`) or ``default``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response
from werkzeug.datastructures import Headers

__all__ = ["Call", "Receiver", "signature_ok", "the_signed_call"]


@dataclass(frozen=True)
class Call:
    """One request the receiver got, and what it answered."""

    key: str | None  # the Idempotency-Key header
    body: dict[str, Any]  # the JSON body ({"raw": text} when it is not JSON)
    status: int
    headers: Headers  # case-insensitive, as sent
    raw: bytes = b""
    at: float = 0.0  # arrival (time.time())

    @property
    def event(self) -> str:
        return str(self.body.get("event"))

    @property
    def rule(self) -> str:
        return str(self.body.get("rule"))

    @property
    def window_start(self) -> str:
        return str(self.body.get("window_start"))


@dataclass
class Receiver:
    """Records every request to ``path``; answers the next of ``script`` (status,
    headers, delay) or ``default``."""

    server: HTTPServer
    path: str
    default: int = 200
    script: list[tuple[int, dict[str, str], float]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    arrivals: int = 0  # requests that reached the handler (counted before any delay)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.server.expect_request(self.path).respond_with_handler(self._handle)

    @property
    def url(self) -> str:
        return self.server.url_for(self.path)

    def answer(self, *statuses: int, headers: Mapping[str, str] | None = None, delay: float = 0.0) -> None:
        with self._lock:
            self.script.extend((status, dict(headers or {}), delay) for status in statuses)

    def _handle(self, request: Request) -> Response:
        at = time.time()
        with self._lock:
            self.arrivals += 1
            status, headers, delay = self.script.pop(0) if self.script else (self.default, {}, 0.0)
        if delay:
            time.sleep(delay)
        raw = request.get_data()
        try:
            body = json.loads(raw)
        except ValueError:
            body = {"raw": raw.decode("utf-8", "replace")}
        with self._lock:
            self.calls.append(Call(request.headers.get("Idempotency-Key"), body, status, Headers(request.headers),
                                   raw, at))
        return Response("ok" if status < 300 else f"failure {status}", status=status, headers=headers)

    def last(self) -> Call:
        with self._lock:
            assert self.calls, f"no request reached {self.path}"
            return self.calls[-1]

    def delivered(self) -> list[Call]:
        """Requests answered 2xx, in order."""
        with self._lock:
            return [call for call in self.calls if 200 <= call.status < 300]

    def events(self) -> list[tuple[str, str]]:
        return [(call.event, call.window_start) for call in self.delivered()]

    def accepted_per_key(self) -> Counter[str | None]:
        return Counter(call.key for call in self.delivered())

    def attempts_per_key(self) -> Counter[str | None]:
        with self._lock:
            return Counter(call.key for call in self.calls)

    def payloads(self, rule: str, event: str | None = None) -> list[Call]:
        """The delivered calls for ``rule`` (and ``event``), in order."""
        return [call for call in self.delivered() if call.rule == rule and (event is None or call.event == event)]

    def wait_for(self, rule: str, event: str, timeout: float) -> list[Call]:
        """The calls for ``rule``/``event``, waiting up to ``timeout`` seconds for the first."""
        deadline = time.time() + timeout
        while time.time() < deadline and not self.payloads(rule, event):
            time.sleep(0.5)
        return self.payloads(rule, event)


def the_signed_call(receiver: Receiver, rule: str, event: str, secret: str) -> tuple[float, dict[str, Any]]:
    """(arrival time, payload) of the one notification for ``rule``/``event``: asserts
    that all its calls share one Idempotency-Key and that it is correctly signed."""
    calls = receiver.payloads(rule, event)
    assert len({call.key for call in calls}) == 1
    first = calls[0]
    assert signature_ok(first.headers, first.raw, secret)
    return first.at, first.body


def signature_ok(headers: Mapping[str, str] | Headers, body: bytes, secret: str) -> bool:
    timestamp = headers["X-Driftwatch-Timestamp"]
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["X-Driftwatch-Signature"], f"sha256={digest}")
