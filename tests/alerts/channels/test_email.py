"""EmailChannel against real aiosmtpd servers: plain, STARTTLS, implicit TLS, AUTH."""

from __future__ import annotations

import email
import email.policy
import time
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

import pytest

from alerts.channels import EmailChannel
from alerts.errors import (
    ChannelConfigError,
    DeliveryConnectionError,
    DeliveryRejected,
    DeliveryTimeout,
)
from alerts.notification import Notification
from tests.alerts.smtp_server import SMTP_PASSWORD, SMTP_USER, Received, SmtpServer

from .conftest import HOSTILE, TlsFiles

MakeNotification = Callable[..., Notification]
StartSmtp = Callable[..., SmtpServer]
RECIPIENTS = ["ml-oncall@example.com", "data-team@example.com"]


def channel_for(port: int, **kwargs: Any) -> EmailChannel:
    arguments: dict[str, Any] = {
        "name": "oncall",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "sender": "Driftwatch <driftwatch@example.com>",
        "to": RECIPIENTS,
        "timeout": 5.0,
    }
    return EmailChannel(**{**arguments, **kwargs})


def parse(received: Received) -> EmailMessage:
    message = email.message_from_bytes(received.content, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def parts(message: EmailMessage) -> tuple[str, str]:
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    return plain.get_content(), html.get_content()


def test_plain_smtp_delivers_a_text_and_html_message(
    start_smtp: StartSmtp, make_notification: MakeNotification
) -> None:
    server = start_smtp()
    notification = make_notification()

    receipt = channel_for(server.port).deliver(notification)

    assert (receipt.channel, receipt.status, receipt.summary) == ("oncall", 250, "250 OK to 2 recipients")
    [received] = server.handler.received
    assert received.mail_from == "driftwatch@example.com"
    assert received.rcpt_tos == RECIPIENTS
    message = parse(received)
    assert message["Subject"] == "[FIRING critical] fraud: dataset_drift_share > 0.3"
    assert message["From"] == "Driftwatch <driftwatch@example.com>"
    assert message["To"] == ", ".join(RECIPIENTS)
    assert message["Date"] is not None
    assert message["Message-ID"].endswith("@example.com>")
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    plain, html = parts(message)
    for text in (plain, html):
        assert "fraud-data-drift" in text
        assert "2026.02.1" in text
        assert "0.42" in text
        assert "2026-03-01 10:00 UTC" in text
        assert "amount, country" in text
    assert "Dashboard: https://driftwatch.example.com/model?name=fraud" in plain
    assert 'href="https://driftwatch.example.com/model?name=fraud"' in html
    assert "#D92D20" in html


def test_people_see_rounded_values_without_float_noise(
    start_smtp: StartSmtp, make_notification: MakeNotification
) -> None:
    server = start_smtp()
    channel_for(server.port).deliver(make_notification(
        metric="latency_p95_ms", value=319.93340000000006, condition="> 150",
        details={"band": [0.30000000000000004, 412.77770000000004]}))

    plain, html = parts(parse(server.handler.received[0]))
    assert "Value:        319.9 (rule: > 150)" in plain
    assert "<td>319.9 (rule: &gt; 150)</td>" in html
    for text in (plain, html):
        assert "band" in text and "0.3, 412.8" in text
        assert "0000000" not in text


def test_resolved_subject_and_html_escaping_of_hostile_names(
    start_smtp: StartSmtp, make_notification: MakeNotification
) -> None:
    server = start_smtp()
    script = "<script>alert(1)</script>"
    notification = make_notification(
        state="resolved", event="resolved", feature=f"{script}{HOSTILE}", value=0.1
    )

    channel_for(server.port).deliver(notification)

    message = parse(server.handler.received[0])
    assert message["Subject"] == f"[RESOLVED] fraud: dataset_drift_share[{script}{HOSTILE}] > 0.3"
    plain, html = parts(message)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert script in plain
    assert "#2EB67D" in html


def test_newlines_in_names_cannot_inject_mail_headers(
    start_smtp: StartSmtp, make_notification: MakeNotification
) -> None:
    server = start_smtp()

    channel_for(server.port).deliver(make_notification(model="fraud\r\nBcc: victim@example.com"))

    [received] = server.handler.received
    assert received.rcpt_tos == RECIPIENTS
    message = parse(received)
    assert message["Bcc"] is None
    # strip(): Python may fold this long header right after "Subject:" (valid RFC 5322).
    assert message["Subject"].strip() == "[FIRING critical] fraud Bcc: victim@example.com: dataset_drift_share > 0.3"


def test_message_id_is_the_same_for_every_retry_of_a_notification(
    start_smtp: StartSmtp, make_notification: MakeNotification
) -> None:
    server = start_smtp()
    channel = channel_for(server.port)

    channel.deliver(make_notification())
    channel.deliver(make_notification())
    channel.deliver(make_notification(idempotency_key="another-key"))

    ids = [parse(received)["Message-ID"] for received in server.handler.received]
    assert ids[0] == ids[1] != ids[2]


def test_starttls_with_a_self_signed_certificate(
    start_smtp: StartSmtp, tls_files: TlsFiles, make_notification: MakeNotification
) -> None:
    server = start_smtp(tls_context=tls_files.server_context(), require_starttls=True)
    channel = channel_for(server.port, starttls=True, ssl_context=tls_files.client_context())

    assert channel.deliver(make_notification()).summary == "250 OK to 2 recipients"

    [received] = server.handler.received
    assert received.tls


def test_starttls_refuses_an_untrusted_certificate(
    start_smtp: StartSmtp, tls_files: TlsFiles, make_notification: MakeNotification
) -> None:
    server = start_smtp(tls_context=tls_files.server_context(), require_starttls=True)
    channel = channel_for(server.port, starttls=True)  # default context: system CAs only

    with pytest.raises(DeliveryConnectionError, match=r"STARTTLS .* certificate is not trusted") as caught:
        channel.deliver(make_notification())

    assert caught.value.retryable is False
    assert server.handler.received == []


def test_implicit_tls_with_smtp_ssl(
    start_smtp: StartSmtp, tls_files: TlsFiles, make_notification: MakeNotification
) -> None:
    server = start_smtp(ssl_context=tls_files.server_context())
    channel = channel_for(server.port, ssl=True, ssl_context=tls_files.client_context())

    channel.deliver(make_notification())

    [received] = server.handler.received
    assert received.tls


@pytest.mark.parametrize(("excluded", "used"), [(["PLAIN"], "LOGIN"), (["LOGIN"], "PLAIN")])
def test_auth_after_starttls_and_the_password_stays_out_of_the_message(
    start_smtp: StartSmtp,
    tls_files: TlsFiles,
    make_notification: MakeNotification,
    excluded: list[str],
    used: str,
) -> None:
    server = start_smtp(
        tls_context=tls_files.server_context(),
        require_starttls=True,
        authenticator=True,
        auth_required=True,
        auth_require_tls=True,
        auth_exclude_mechanism=excluded,
    )
    channel = channel_for(
        server.port, starttls=True, ssl_context=tls_files.client_context(),
        username=SMTP_USER, password=SMTP_PASSWORD,
    )

    channel.deliver(make_notification())

    assert server.handler.auth_calls == [(used, SMTP_USER.encode(), SMTP_PASSWORD.encode())]
    [received] = server.handler.received
    assert received.tls and received.authenticated
    assert SMTP_PASSWORD.encode() not in received.content
    assert SMTP_PASSWORD not in repr(channel)
    assert SMTP_PASSWORD not in str(make_notification().to_dict())


def test_a_wrong_password_is_not_retryable(
    start_smtp: StartSmtp, tls_files: TlsFiles, make_notification: MakeNotification
) -> None:
    server = start_smtp(
        tls_context=tls_files.server_context(), require_starttls=True,
        authenticator=True, auth_required=True,
    )
    channel = channel_for(
        server.port, starttls=True, ssl_context=tls_files.client_context(),
        username=SMTP_USER, password="wrong-password",
    )

    with pytest.raises(DeliveryRejected, match=r"login to SMTP server .* failed: 535") as caught:
        channel.deliver(make_notification())

    assert (caught.value.retryable, caught.value.status) == (False, 535)
    assert "check username 'alerts' and the password" in str(caught.value)
    assert "wrong-password" not in str(caught.value)
    assert server.handler.received == []


@pytest.mark.parametrize(
    ("reply", "retryable", "status"),
    [
        ("550 5.1.1 No such user", False, 550),
        ("451 4.3.0 Mailbox temporarily unavailable", True, 451),
    ],
)
def test_refused_recipients_are_classified_by_reply_code(
    start_smtp: StartSmtp, make_notification: MakeNotification, reply: str, retryable: bool, status: int
) -> None:
    server = start_smtp()
    server.handler.rcpt_replies = {address: reply for address in RECIPIENTS}

    with pytest.raises(DeliveryRejected, match="every recipient was refused") as caught:
        channel_for(server.port).deliver(make_notification())

    assert (caught.value.retryable, caught.value.status) == (retryable, status)
    assert reply.split(" ", 1)[1] in (caught.value.response_body or "")


def test_a_partly_refused_recipient_list_is_reported_and_not_retried(
    start_smtp: StartSmtp, make_notification: MakeNotification
) -> None:
    server = start_smtp()
    server.handler.rcpt_replies = {RECIPIENTS[1]: "550 5.1.1 No such user"}

    with pytest.raises(DeliveryRejected, match=r"for 1 of 2 recipients but refused data-team@example.com") as caught:
        channel_for(server.port).deliver(make_notification())

    assert (caught.value.retryable, caught.value.status) == (False, 550)
    assert [received.rcpt_tos for received in server.handler.received] == [[RECIPIENTS[0]]]


@pytest.mark.parametrize(
    ("reply", "retryable"),
    [("554 5.7.1 Message rejected as spam", False), ("452 4.3.1 Insufficient system storage", True)],
)
def test_data_rejections_are_classified_by_reply_code(
    start_smtp: StartSmtp, make_notification: MakeNotification, reply: str, retryable: bool
) -> None:
    server = start_smtp()
    server.handler.data_reply = reply

    with pytest.raises(DeliveryRejected, match="send to SMTP server") as caught:
        channel_for(server.port).deliver(make_notification())

    assert caught.value.retryable is retryable
    assert caught.value.status == int(reply[:3])


def test_a_server_that_never_greets_is_a_retryable_timeout(
    silent_server: int, make_notification: MakeNotification
) -> None:
    started = time.monotonic()

    with pytest.raises(DeliveryTimeout, match=r"connect to SMTP server .* no reply within 0\.5 s") as caught:
        channel_for(silent_server, timeout=0.5).deliver(make_notification())

    assert caught.value.retryable
    assert time.monotonic() - started < 5


def test_connection_refused_is_retryable(closed_port: int, make_notification: MakeNotification) -> None:
    with pytest.raises(DeliveryConnectionError, match="connect to SMTP server") as caught:
        channel_for(closed_port).deliver(make_notification())

    assert caught.value.retryable


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"username": "u", "password": "p"}, "need starttls: true or ssl: true"),
        ({"username": "u", "starttls": True}, "set both username and password"),
        ({"starttls": True, "ssl": True}, "not both"),
        ({"to": []}, "to must be a non-empty list"),
        ({"to": ["a@example.com, b@example.com"]}, "is not one email address"),
        ({"to": ["nobody"]}, "is not one email address"),
        ({"sender": "x@example.com\r\nBcc: y@example.com"}, "must be one email address on one line"),
        ({"smtp_port": 0}, "smtp_port must be 1-65535"),
        ({"ssl_context": "yes"}, "ssl_context must be an ssl.SSLContext"),
    ],
)
def test_invalid_config_is_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ChannelConfigError, match=message):
        channel_for(25, **kwargs)


def test_repr_hides_the_password() -> None:
    channel = channel_for(587, starttls=True, username=SMTP_USER, password=SMTP_PASSWORD)

    assert SMTP_PASSWORD not in repr(channel)
    assert "password='***'" in repr(channel)
