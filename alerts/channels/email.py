"""Email channel: sends one message (see ``email_message``) once over SMTP.

Supports plain SMTP, STARTTLS (usually port 587) and implicit TLS (``ssl``, usually
port 465), with AUTH (LOGIN/PLAIN, whatever the server and smtplib agree on). A
password is only ever sent over TLS.

SMTP replies are classified by their code: 4xx is transient (retryable), 5xx is
permanent; authentication failures (535) and TLS certificate problems need a person.
"""

from __future__ import annotations

import logging
import smtplib
import ssl as ssl_module
from email.message import EmailMessage
from email.utils import getaddresses

from alerts.channels.base import DeliveryReceipt, check_channel_name, check_timeout
from alerts.channels.email_message import compose_email
from alerts.errors import (
    ChannelConfigError,
    DeliveryConnectionError,
    DeliveryError,
    DeliveryRejected,
    DeliveryTimeout,
)
from alerts.notification import Notification

__all__ = ["EmailChannel"]

_log = logging.getLogger(__name__)


class EmailChannel:
    """Sends each notification as one email to ``to`` from ``sender``.

    ``starttls`` upgrades a plain connection; ``ssl`` connects with implicit TLS
    (not both). ``username``/``password`` log in, and require one of them.
    ``ssl_context`` replaces the default (system CAs, hostname checked), e.g. to
    trust a private CA. ``timeout`` (seconds) bounds connect and every reply.
    """

    __slots__ = (
        "_envelope_sender",
        "_host",
        "_name",
        "_password",
        "_port",
        "_sender",
        "_ssl",
        "_ssl_context",
        "_starttls",
        "_timeout",
        "_to",
        "_username",
    )

    def __init__(
        self,
        *,
        name: str,
        smtp_host: str,
        smtp_port: int,
        sender: str,
        to: list[str],
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        ssl: bool = False,
        timeout: float = 10.0,
        ssl_context: ssl_module.SSLContext | None = None,
    ) -> None:
        self._name = check_channel_name(name)
        if not isinstance(smtp_host, str) or not smtp_host or any(c.isspace() for c in smtp_host):
            raise ChannelConfigError(f"channel {name!r}: smtp_host must be a host name, got {smtp_host!r}")
        self._host = smtp_host
        if isinstance(smtp_port, bool) or not isinstance(smtp_port, int) or not 0 < smtp_port < 65536:
            raise ChannelConfigError(f"channel {name!r}: smtp_port must be 1-65535, got {smtp_port!r}")
        self._port = smtp_port
        self._envelope_sender = _check_address(name, "sender", sender)
        self._sender = sender
        if not isinstance(to, list | tuple) or not to:
            raise ChannelConfigError(f"channel {name!r}: to must be a non-empty list of addresses")
        self._to = [_check_address(name, "to", address) for address in to]
        if starttls and ssl:
            raise ChannelConfigError(
                f"channel {name!r}: set either starttls (port 587) or ssl (port 465), not both"
            )
        self._starttls = bool(starttls)
        self._ssl = bool(ssl)
        if (username is None) != (password is None):
            raise ChannelConfigError(f"channel {name!r}: set both username and password, or neither")
        if username is not None and not (starttls or ssl):
            raise ChannelConfigError(
                f"channel {name!r}: username/password need starttls: true or ssl: true; "
                "driftwatch does not send SMTP passwords in clear text"
            )
        self._username = username
        self._password = password
        self._timeout = check_timeout(name, timeout)
        if ssl_context is not None and not isinstance(ssl_context, ssl_module.SSLContext):
            raise ChannelConfigError(f"channel {name!r}: ssl_context must be an ssl.SSLContext")
        self._ssl_context = ssl_context

    @property
    def name(self) -> str:
        return self._name

    def deliver(self, notification: Notification) -> DeliveryReceipt:
        """Connect, (STARTTLS), (AUTH), send once, QUIT."""
        message = self.compose(notification)
        stage = "connect"
        try:
            smtp = self._connect()
            try:
                if self._starttls:
                    stage = "STARTTLS"
                    smtp.starttls(context=self._tls_context())
                if self._username is not None and self._password is not None:
                    stage = "login"
                    smtp.login(self._username, self._password)
                stage = "send"
                refused = smtp.send_message(
                    message, from_addr=self._envelope_sender, to_addrs=self._to
                )
            finally:
                _quit(smtp)
        except (smtplib.SMTPException, OSError) as exc:
            raise self._classify(stage, exc) from exc
        if refused:
            # Some recipients got it: a retry would send them a duplicate.
            code, reply = next(iter(refused.values()))
            raise DeliveryRejected(
                f"channel {self._name!r}: {self._where()} accepted the message for "
                f"{len(self._to) - len(refused)} of {len(self._to)} recipients but refused "
                f"{', '.join(sorted(refused))} ({code} {_text(reply)}); fix the 'to' list",
                channel=self._name, retryable=False, status=code, response_body=_text(reply),
            )
        count = len(self._to)
        return DeliveryReceipt(
            channel=self._name,
            status=250,
            summary=f"250 OK to {count} recipient{'s' if count != 1 else ''}",
        )

    def compose(self, notification: Notification) -> EmailMessage:
        """The message :meth:`deliver` sends: headers, plain-text and HTML parts."""
        return compose_email(notification, sender=self._sender, to=self._to)

    def __repr__(self) -> str:
        login = f", username={self._username!r}, password='***'" if self._username else ""
        return (
            f"EmailChannel(name={self._name!r}, smtp_host={self._host!r}, "
            f"smtp_port={self._port!r}, sender={self._sender!r}, to={self._to!r}{login}, "
            f"starttls={self._starttls}, ssl={self._ssl}, timeout={self._timeout!r})"
        )

    def _connect(self) -> smtplib.SMTP:
        if self._ssl:
            return smtplib.SMTP_SSL(
                self._host, self._port, timeout=self._timeout, context=self._tls_context()
            )
        return smtplib.SMTP(self._host, self._port, timeout=self._timeout)

    def _tls_context(self) -> ssl_module.SSLContext:
        return self._ssl_context or ssl_module.create_default_context()

    def _where(self) -> str:
        return f"SMTP server {self._host}:{self._port}"

    def _classify(self, stage: str, exc: BaseException) -> DeliveryError:
        where = f"channel {self._name!r}: {stage} to {self._where()} failed"
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            replies = {rcpt: (code, _text(msg)) for rcpt, (code, msg) in exc.recipients.items()}
            transient = all(400 <= code < 500 for code, _ in replies.values())
            listed = "; ".join(f"{rcpt}: {code} {msg}" for rcpt, (code, msg) in replies.items())
            code = next(iter(replies.values()))[0] if replies else None
            advice = "retry later" if transient else "fix the 'to' list"
            return DeliveryRejected(
                f"{where}: every recipient was refused ({listed}); {advice}",
                channel=self._name, retryable=transient, status=code, response_body=listed,
            )
        if isinstance(exc, smtplib.SMTPResponseException):
            code, reply = exc.smtp_code, _text(exc.smtp_error)
            transient = not 500 <= code < 600
            if isinstance(exc, smtplib.SMTPAuthenticationError) and not transient:
                advice = f"check username {self._username!r} and the password"
            elif transient:
                advice = "the server reported a temporary problem; retry later"
            else:
                advice = "the server refused permanently; fix the sender, recipients or server"
            return DeliveryRejected(
                f"{where}: {code} {reply}; {advice}",
                channel=self._name, retryable=transient, status=code, response_body=reply,
            )
        if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
            # smtplib reports a read timeout as SMTPServerDisconnected("... timed out").
            return DeliveryTimeout(
                f"{where}: no reply within {self._timeout:g} s; retry later, or raise the "
                "channel's timeout",
                channel=self._name,
            )
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            return DeliveryConnectionError(
                f"{where}: the server closed the connection ({exc}); retry later",
                channel=self._name,
            )
        if isinstance(exc, smtplib.SMTPException):  # e.g. STARTTLS or AUTH not offered
            return DeliveryRejected(
                f"{where}: {exc}; check starttls/ssl, the port and the login settings",
                channel=self._name, retryable=False,
            )
        if isinstance(exc, ssl_module.SSLCertVerificationError):
            return DeliveryConnectionError(
                f"{where}: the TLS certificate is not trusted ({exc.verify_message}); "
                "fix the server certificate or the CA bundle",
                channel=self._name, retryable=False,
            )
        if isinstance(exc, ssl_module.SSLEOFError | ssl_module.SSLZeroReturnError):
            return DeliveryConnectionError(
                f"{where}: the TLS connection was cut ({exc}); retry later", channel=self._name
            )
        if isinstance(exc, ssl_module.SSLError):
            return DeliveryConnectionError(
                f"{where}: TLS handshake failed ({exc}); check ssl/starttls against the port "
                "(465 is implicit TLS, 587 is STARTTLS)",
                channel=self._name, retryable=False,
            )
        return DeliveryConnectionError(
            f"{where}: {exc}; check that the server is up and reachable, then retry",
            channel=self._name,
        )


def _quit(smtp: smtplib.SMTP) -> None:
    # Once DATA was accepted the message is delivered: a failing QUIT must not turn
    # that into an error (the dispatcher would send a duplicate), so it is only logged.
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError) as exc:
        _log.debug("SMTP QUIT failed, connection closed anyway: %s", exc)
        smtp.close()


def _check_address(channel: str, key: str, address: object) -> str:
    """Return the bare address (``ops@example.com``) of one ``Name <addr>`` entry."""
    if not isinstance(address, str) or any(c in address for c in "\r\n"):
        raise ChannelConfigError(
            f"channel {channel!r}: {key} must be one email address on one line, got {address!r}"
        )
    parsed = getaddresses([address])
    spec = parsed[0][1] if len(parsed) == 1 else ""
    local, at, domain = spec.rpartition("@")
    if not (local and at and domain) or any(c.isspace() for c in spec):
        raise ChannelConfigError(
            f"channel {channel!r}: {key} {address!r} is not one email address like "
            "ops@example.com (use a list for several)"
        )
    return spec


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", errors="replace") if isinstance(reply, bytes) else reply
