"""The email a notification becomes: subject, headers, plain-text and HTML parts.

The HTML is rendered by Jinja2 with autoescaping, so names such as ``<script>`` in a
feature show as text. The Message-ID is derived from the notification's idempotency
key: a retried delivery carries the same Message-ID and mail systems can drop the
duplicate.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from jinja2 import Environment, StrictUndefined

from alerts.channels.presentation import (
    colour,
    dashboard_link,
    detail_lines,
    headline,
    status_label,
    subject,
    summary_fields,
)
from alerts.notification import Notification
from monitor.clock import utc_now

__all__ = ["compose_email", "message_id"]

_HTML = Environment(autoescape=True, undefined=StrictUndefined).from_string("""\
<!DOCTYPE html>
<html><body style="font-family: Arial, Helvetica, sans-serif; color: #1d1d1f;">
<table role="presentation" cellpadding="0" cellspacing="0"
 style="border-left: 6px solid {{ colour }}; padding: 8px 16px;">
<tr><td>
<h2 style="margin: 0 0 4px 0;">{{ status }}: {{ rule }}</h2>
<p style="margin: 0 0 12px 0; font-size: 15px;"><strong>{{ headline }}</strong></p>
<table role="presentation" cellpadding="4" cellspacing="0" style="font-size: 14px;">
{% for label, value in fields %}<tr><td style="color: #555;">{{ label }}</td><td>{{ value }}</td></tr>
{% endfor %}</table>
{% if details %}<h3 style="margin: 12px 0 4px 0; font-size: 14px;">Details</h3>
<table role="presentation" cellpadding="4" cellspacing="0" style="font-size: 14px;">
{% for key, value in details %}<tr><td style="color: #555;">{{ key }}</td><td>{{ value }}</td></tr>
{% endfor %}</table>{% endif %}
{% if link %}<p style="margin: 16px 0;"><a href="{{ link }}"
 style="background: {{ colour }}; color: #fff; padding: 8px 14px; text-decoration: none; border-radius: 4px;"
>Open dashboard</a></p>{% endif %}
<p style="color: #888; font-size: 12px;">Sent by driftwatch &middot; notification {{ key }}</p>
</td></tr></table>
</body></html>
""")



def compose_email(notification: Notification, *, sender: str, to: Sequence[str]) -> EmailMessage:
    """A multipart/alternative message from ``sender`` to ``to`` for ``notification``."""
    n = notification
    message = EmailMessage()
    message["Subject"] = subject(n)
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Date"] = format_datetime(utc_now())
    message["Message-ID"] = message_id(n.idempotency_key, sender)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    message["X-Driftwatch-Idempotency-Key"] = n.idempotency_key
    message.set_content(_plain_text(n))
    message.add_alternative(
        _HTML.render(
            colour=colour(n),
            status=status_label(n),
            rule=n.rule,
            headline=headline(n),
            fields=summary_fields(n),
            details=detail_lines(n),
            link=dashboard_link(n),
            key=n.idempotency_key,
        ),
        subtype="html",
    )
    return message


def message_id(idempotency_key: str, sender: str) -> str:
    """``<driftwatch.<hash of the key>@<sender's domain>>``: the same for every retry."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "driftwatch.invalid"
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:40]
    return f"<driftwatch.{digest}@{domain}>"


def _plain_text(n: Notification) -> str:
    fields = summary_fields(n)
    width = max(len(label) for label, _ in fields) + 2
    lines = [f"{status_label(n)}: {n.rule}", headline(n), ""]
    lines += [f"{label + ':':<{width}}{value}" for label, value in fields]
    details = detail_lines(n)
    if details:
        lines += ["", "Details:"] + [f"  {key}: {value}" for key, value in details]
    link = dashboard_link(n)
    if link:
        lines += ["", f"Dashboard: {link}"]
    lines += ["", "-- ", f"Sent by driftwatch, notification {n.idempotency_key}"]
    return "\n".join(lines) + "\n"
