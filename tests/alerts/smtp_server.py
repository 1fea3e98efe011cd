"""A real SMTP server for the tests (aiosmtpd) that records what it accepted."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

__all__ = ["SMTP_PASSWORD", "SMTP_USER", "Received", "RecordingHandler", "SmtpServer", "free_port", "smtp_servers"]

SMTP_USER = "alerts"
SMTP_PASSWORD = "pw-Zq81-never-in-mail"


@dataclass
class Received:
    """One message the SMTP server accepted, with what the session looked like."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    tls: bool
    authenticated: bool


@dataclass
class RecordingHandler:
    """aiosmtpd handler that keeps accepted messages; replies can be overridden."""

    received: list[Received] = field(default_factory=list)
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    data_reply: str | None = None
    auth_calls: list[tuple[str, bytes, bytes]] = field(default_factory=list)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply is not None:
            return self.data_reply
        assert envelope.mail_from is not None and isinstance(envelope.original_content, bytes)
        self.received.append(
            Received(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                content=envelope.original_content,
                # session.ssl is only set by STARTTLS; implicit TLS shows on the transport.
                tls=session.ssl is not None
                or (server.transport is not None and server.transport.get_extra_info("ssl_object") is not None),
                authenticated=bool(session.authenticated),
            )
        )
        return "250 Message accepted for delivery"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.auth_calls.append((mechanism, auth_data.login, auth_data.password))
        ok = auth_data.login == SMTP_USER.encode() and auth_data.password == SMTP_PASSWORD.encode()
        return AuthResult(success=ok, handled=False)


@dataclass
class SmtpServer:
    handler: RecordingHandler
    port: int


def free_port() -> int:
    """A loopback port nothing listens on (yet)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def smtp_servers() -> Iterator[Any]:
    """Yields ``start(**kwargs) -> SmtpServer``; keywords go to aiosmtpd's SMTP
    (tls_context, require_starttls, authenticator=True, ...) or to the Controller
    (ssl_context for implicit TLS), or ``port`` (default: a free one). Every server is
    stopped on exit."""
    controllers: list[Controller] = []

    def start(**kwargs: Any) -> SmtpServer:
        handler = RecordingHandler()
        if kwargs.pop("authenticator", False):
            kwargs["authenticator"] = handler.authenticate
        port = kwargs.pop("port", None) or free_port()
        controller = Controller(
            handler, hostname="127.0.0.1", port=port, server_hostname="localhost", **kwargs
        )
        controller.start()
        controllers.append(controller)
        return SmtpServer(handler=handler, port=port)

    try:
        yield start
    finally:
        for controller in controllers:
            controller.stop()
