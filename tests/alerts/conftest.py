"""Fixtures for every alerts test: loopback without proxies, a real SMTP server,
and a recording HTTP receiver on pytest-httpserver."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from pytest_httpserver import HTTPServer

from tests.alerts.smtp_server import SmtpServer, smtp_servers
from tests.support.webhook import Receiver


@pytest.fixture(autouse=True)
def _no_proxy_for_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    # urllib honours *_PROXY variables; the test servers are on loopback.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def start_smtp() -> Iterator[Callable[..., SmtpServer]]:
    """Start real aiosmtpd servers on loopback (see tests.alerts.smtp_server)."""
    with smtp_servers() as start:
        yield start


@pytest.fixture
def receiver(httpserver: HTTPServer) -> Receiver:
    """A webhook receiver at /hook that records every request and answers 200
    unless told otherwise."""
    return Receiver(httpserver, "/hook")
