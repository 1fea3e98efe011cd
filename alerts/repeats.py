"""Wall-clock upkeep of open alerts: repeat notifications for alerts still firing,
and closing alerts whose rule is no longer in the config.

Each alert is handled in its own short transaction that locks just its row, so
this never waits on a window evaluation while holding another lock.
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from datetime import datetime

from sqlalchemy import Engine

from alerts.alert_store import delete_alert, load_alert, open_alerts, save_alert
from alerts.outbox import enqueue
from alerts.rules import rule_applies_to
from alerts.state import mark_notified, repeat_due
from alerts.transactions import read_connection, write_transaction
from monitor.config.models import AlertRule, DriftwatchConfig
from monitor.logs import fields

__all__ = ["close_orphans", "enqueue_repeats"]

_log = logging.getLogger(__name__)


def enqueue_repeats(engine: Engine, config: DriftwatchConfig, now: datetime) -> int:
    """Queue a ``repeat`` notification for every firing alert last notified at least
    ``alerts.repeat_interval`` before ``now``; return how many rows were queued."""
    interval = config.alerts.repeat_interval
    with read_connection(engine, "find firing alerts") as connection:
        firing = open_alerts(connection, states=("firing",))
    queued = 0
    for candidate in firing:
        rule = _rule_for(config, candidate.rule, candidate.model)
        if rule is None or not repeat_due(candidate, now=now, repeat_interval=interval):
            continue
        assert candidate.id is not None
        with write_transaction(engine, f"queue repeat of alert {candidate.id}") as connection:
            alert = load_alert(connection, candidate.id, lock=True)
            if alert is None or not repeat_due(alert, now=now, repeat_interval=interval):
                continue  # another process got there first
            assert alert.last_notified_at is not None
            assert alert.last_window_start is not None and alert.last_window_end is not None
            queued += enqueue(
                connection,
                alert=alert,
                event="repeat",
                channels=rule.channels,
                window_start=alert.last_window_start,
                window_end=alert.last_window_end,
                value=math.nan if alert.last_value is None else alert.last_value,
                details={},
                # The notification it repeats: one repeat per interval, however often this runs.
                marker=alert.last_notified_at,
                dashboard_base_url=config.dashboard.base_url,
                now=now,
            )
            save_alert(connection, mark_notified(alert, now), now=now)
    return queued


def close_orphans(engine: Engine, config: DriftwatchConfig, now: datetime) -> int:
    """Close open alerts whose rule was removed from the config (or no longer watches
    their model): pending ones are dropped, firing ones resolved at ``now``, without
    a notification, since the rule and its channels are gone. Returns how many."""
    with read_connection(engine, "find orphaned alerts") as connection:
        orphans = [
            alert for alert in open_alerts(connection)
            if _rule_for(config, alert.rule, alert.model) is None
        ]
    for orphan in orphans:
        assert orphan.id is not None
        with write_transaction(engine, f"close orphaned alert {orphan.id}") as connection:
            alert = load_alert(connection, orphan.id, lock=True)
            if alert is None or not alert.is_open:
                continue
            if alert.state == "pending":
                delete_alert(connection, orphan.id)
            else:
                save_alert(connection, replace(alert, state="resolved", consecutive=0, resolved_at=now), now=now)
        _log.warning("closed an alert whose rule is no longer configured", extra=fields(
            alert_id=orphan.id, rule=orphan.rule, model=orphan.model, state=orphan.state))
    return len(orphans)


def _rule_for(config: DriftwatchConfig, name: str, model: str) -> AlertRule | None:
    for rule in config.alerts.rules:
        if rule.name == name and rule_applies_to(rule, model):
            return rule
    return None
