"""``driftwatch alerts …``: test a channel, list open alerts, manage silences.

This is a typer sub-app; :mod:`monitor.cli.main` mounts it with
``app.add_typer(alerts_app, name="alerts")`` (only that assembly of the CLI imports
``alerts``; what the commands share comes from :mod:`monitor.cli.common`).
Every command loads the config first; a bad config, store or argument prints one
message and exits 2.
"""

from __future__ import annotations

import getpass
import math
import uuid
from datetime import datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from sqlalchemy import Engine

from alerts.alert_store import open_alerts
from alerts.channels.config import build_channel
from alerts.channels.presentation import format_value
from alerts.errors import DeliveryError
from alerts.notification import Notification
from alerts.outbox import dashboard_url
from alerts.silences import Silence, create_silence, expire_silence, list_silences
from alerts.transactions import read_connection
from monitor.cli.common import exit_on_errors, load_context_config, print_error
from monitor.cli.tables import print_table
from monitor.clock import format_time, utc_now
from monitor.config.durations import format_duration, parse_duration
from monitor.config.models import DriftwatchConfig
from monitor.errors import DriftwatchError
from monitor.store.engine import create_store_engine
from monitor.store.schema import require_schema

__all__ = ["alerts_app", "test_notification"]

alerts_app = typer.Typer(
    name="alerts",
    help="Alert channels, open alerts and silences.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


@alerts_app.command("test")
def test_command(
    channel: Annotated[str, typer.Argument(help="A channel name under alerts.channels.")],
) -> None:
    """Send a test notification through CHANNEL once and report exactly what happened.

    Exit code 0: delivered; 1: the receiver or network refused it; 2: no such channel
    or a bad config.
    """
    with exit_on_errors():
        config = load_context_config()
        if channel not in config.alerts.channels:
            known = ", ".join(sorted(config.alerts.channels)) or "none configured"
            print_error(f"no channel {channel!r} under alerts.channels (known: {known})")
            raise typer.Exit(2)
        target = build_channel(channel, config.alerts.channels[channel])
    notification = test_notification(config, channel=channel, now=utc_now())
    try:
        receipt = target.deliver(notification)
    except DeliveryError as exc:
        err.print(f"[bold red]not delivered[/] through {escape(repr(channel))}: {escape(str(exc))}")
        if exc.status is not None:
            err.print(f"  status: {exc.status}")
        if exc.response_body:
            err.print(f"  response: {exc.response_body}", markup=False)
        err.print(f"  retryable: {'yes' if exc.retryable else 'no'}"
                  + (f" (after {exc.retry_after:g} s)" if exc.retry_after is not None else ""))
        raise typer.Exit(1) from None
    out.print(f"delivered through {channel!r}: {receipt.summary}", markup=False)
    out.print(f"  idempotency key: {notification.idempotency_key}", markup=False)


@alerts_app.command("list")
def list_command(
    show_all: Annotated[bool, typer.Option("--all", help="Also show resolved alerts.")] = False,
) -> None:
    """Show open (pending and firing) alerts."""
    with exit_on_errors():
        engine = _engine(load_context_config())
        states = ("pending", "firing", "resolved") if show_all else ("pending", "firing")
        with read_connection(engine, "list alerts") as connection:
            found = open_alerts(connection, states=states)
    if not found:
        out.print("no open alerts" if not show_all else "no alerts")
        return
    table = Table(title="alerts")
    for column in ("id", "rule", "model", "version", "feature", "state", "severity", "value", "condition",
                   "since", "last window"):
        table.add_column(column, overflow="fold")
    for alert in found:
        value = format_value(math.nan if alert.last_value is None else alert.last_value)
        last = format_time(alert.last_window_start) if alert.last_window_start else "—"
        table.add_row(*_cells(
            str(alert.id), alert.rule, alert.model if alert.segment is None else f"{alert.model} {alert.segment}",
            alert.model_version or "—", alert.feature or "—",
            alert.state, alert.severity, value, alert.condition, format_time(alert.started_at), last,
        ))
    print_table(out, table)


@alerts_app.command("silence")
def silence_command(
    rule: Annotated[str, typer.Option("--rule", help="The rule to silence (its name).")],
    duration: Annotated[str, typer.Option("--for", help="How long, e.g. 30m, 2h, 1d.")],
    comment: Annotated[str, typer.Option("--comment", help="Why; shown to everyone.")],
    model: Annotated[str | None, typer.Option("--model", help="Only this model.")] = None,
    feature: Annotated[str | None, typer.Option("--feature", help="Only this feature.")] = None,
    author: Annotated[str | None, typer.Option("--author", help="Who (default: your user name).")] = None,
) -> None:
    """Notify nobody about RULE (optionally one model / feature) for a while."""
    with exit_on_errors():
        config = load_context_config()
        rules = {item.name for item in config.alerts.rules}
        if rule not in rules:
            raise DriftwatchError(f"no rule {rule!r} under alerts.rules (known: {', '.join(sorted(rules)) or 'none'})")
        try:
            length = parse_duration(duration)
        except ValueError as exc:
            raise DriftwatchError(f"--for: {exc}") from None
        silence = create_silence(
            _engine(config), rule=rule, model=model, feature=feature, duration=length, comment=comment,
            created_by=author or _user(), now=utc_now(),
        )
    out.print(f"silence {silence.id}: {_scope(silence)} until {format_time(silence.ends_at)} "
              f"({format_duration(length)})", markup=False)


@alerts_app.command("silences")
def silences_command(
    show_all: Annotated[bool, typer.Option("--all", help="Also show expired silences.")] = False,
) -> None:
    """List active silences."""
    with exit_on_errors():
        now = utc_now()
        found = list_silences(_engine(load_context_config()), now=now, include_expired=show_all)
    if not found:
        out.print("no silences" if show_all else "no active silences")
        return
    table = Table(title="silences")
    for column in ("id", "silences", "from", "until", "by", "comment", "active"):
        table.add_column(column, overflow="fold")
    for silence in found:
        table.add_row(*_cells(
            str(silence.id), _scope(silence), format_time(silence.starts_at), format_time(silence.ends_at),
            silence.created_by or "—", silence.comment, "yes" if silence.is_active(now) else "no",
        ))
    print_table(out, table)


@alerts_app.command("expire")
def expire_command(silence_id: Annotated[int, typer.Argument(help="The silence's id.")]) -> None:
    """End a silence now."""
    with exit_on_errors():
        now = utc_now()
        silence = expire_silence(_engine(load_context_config()), silence_id, now=now)
    when = "now" if silence.ends_at == now else f"already at {format_time(silence.ends_at)}"
    out.print(f"silence {silence.id} ({_scope(silence)}) ended {when}", markup=False)


def test_notification(config: DriftwatchConfig, *, channel: str, now: datetime) -> Notification:
    """The message ``alerts test`` sends: clearly a test, never a real alert."""
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    return Notification(
        rule="driftwatch-test",
        model="driftwatch",
        model_version="test",
        metric="dataset_drift_share",
        value=0.42,
        condition="> 0.3",
        severity="info",
        state="firing",
        event="test",
        window_start=start,
        window_end=start + timedelta(hours=1),
        first_breach_at=start,
        dashboard_url=dashboard_url(config.dashboard.base_url, model="driftwatch", model_version="test",
                                    window_start=start),
        idempotency_key=f"test-{uuid.uuid4().hex}",
        details={"note": f"Test notification from `driftwatch alerts test {channel}`; no action needed."},
    )


def _engine(config: DriftwatchConfig) -> Engine:
    engine = create_store_engine(config.store, must_exist=True)
    require_schema(engine)
    return engine


def _cells(*values: str) -> list[Text]:
    # Text, not str: names and comments are user text, never rich markup.
    return [Text(value) for value in values]


def _scope(silence: Silence) -> str:
    parts = [f"rule {silence.rule}"]
    if silence.model:
        parts.append(f"model {silence.model}")
    if silence.feature:
        parts.append(f"feature {silence.feature}")
    return ", ".join(parts)


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return None
