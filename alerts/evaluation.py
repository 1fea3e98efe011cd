"""Evaluating computed windows against the alert rules: load → decide → save.

The scheduler calls :func:`evaluate_window` after it saved a window; the alert
service calls :func:`evaluate_due` on every tick, which evaluates every complete
window not yet evaluated (a restart catches up), queues repeat notifications and
closes alerts whose rule left the config. Both are idempotent.

One (model, window) is one transaction: the rule cursors are locked, the alert
state changes and their outbox rows are written together, and the cursors move
past the window. So a crash leaves either everything or nothing, and a window at
or before a rule's cursor (replayed, or evaluated twice) is a no-op.
Only complete windows count: a window with any ``is_partial`` row is skipped.

A window a rule already judged that was **recomputed** since (late labels or
predictions; ``metric_values.computed_at`` newer than the rule's
``computed_through``) is judged again, as news about the past: a breach it now
shows opens an alert when no alert of that series took the window into account
already and the breach decides on its own — the rule fires on one window
(``for: 1``), or the window is the newest the rule judged. It never resolves,
drops or extends an alert, nor counts twice toward ``for``: the windows judged
after it already decided those. So late labels that reveal concept drift still
alert, and recomputing windows (``driftwatch compute``) never repeats a
notification.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, case, func, or_, select

from alerts.alert_store import (
    Cursor,
    advance_cursor,
    covers_window,
    delete_alert,
    load_cursors,
    lock_cursor,
    open_alerts_of,
    register_cursors,
    save_alert,
)
from alerts.look_first import with_look_first
from alerts.outbox import enqueue
from alerts.repeats import close_orphans, enqueue_repeats
from alerts.rules import evaluate_rule, no_data, rule_applies_to, series_order
from alerts.state import Transition, advance
from alerts.transactions import read_connection, write_transaction
from monitor.clock import iso_utc
from monitor.config.models import AlertRule, DriftwatchConfig
from monitor.logs import fields
from monitor.metrics.point import MetricPoint
from monitor.store.tables import metric_values

__all__ = ["EvaluationReport", "evaluate_due", "evaluate_window"]

_log = logging.getLogger(__name__)


@dataclass
class EvaluationReport:
    """What an evaluation did: ``windows`` counts (rule, window) evaluations (a rule
    skipping a window it already evaluated does not count), ``transitions`` the
    alert state changes, ``notifications`` the outbox rows queued."""

    windows: int = 0
    transitions: list[Transition] = field(default_factory=list)
    notifications: int = 0

    def merge(self, other: EvaluationReport) -> None:
        self.windows += other.windows
        self.transitions.extend(other.transitions)
        self.notifications += other.notifications


def evaluate_window(
    engine: Engine,
    config: DriftwatchConfig,
    *,
    model: str,
    model_version: str,
    window_start: datetime,
    window_end: datetime,
    now: datetime,
) -> EvaluationReport:
    """Evaluate every rule watching ``model`` on one complete window (idempotent).

    ``model_version`` names the version just saved; the points of every version of
    the model in this window are considered (see :func:`alerts.rules.evaluate_rule`).
    A partial or unknown window changes nothing. ``now`` is the wall clock.
    """
    rules = [rule for rule in config.alerts.rules if rule_applies_to(rule, model)]
    if not rules:
        return EvaluationReport()
    action = f"evaluate alerts of {model} {model_version} window {iso_utc(window_start)}"
    with write_transaction(engine, action) as connection:
        return _evaluate(connection, config, rules, model, window_start, window_end, now)


def evaluate_due(engine: Engine, config: DriftwatchConfig, now: datetime) -> EvaluationReport:
    """Evaluate every complete window each rule has not evaluated yet, oldest first,
    then queue due repeat notifications and close orphaned alerts.

    A rule first seen now (new rule, or a new store with history) looks at the
    newest ``for`` complete windows that ended before it appeared, and every window
    after: it judges the present, not the whole history.
    """
    report = EvaluationReport()
    with read_connection(engine, "find windows to evaluate") as connection:
        cursors = load_cursors(connection)
        models = sorted(set(config.models) | set(_models_with_points(connection)))
    watched = {model: [rule for rule in config.alerts.rules if rule_applies_to(rule, model)] for model in models}
    missing = [(rule.name, model) for model, rules in watched.items() for rule in rules
               if (rule.name, model) not in cursors]
    if missing:
        with write_transaction(engine, "register alert rules") as connection:
            register_cursors(connection, missing, now=now)
            cursors = load_cursors(connection)
    plan: list[tuple[str, datetime, datetime, list[AlertRule]]] = []
    with read_connection(engine, "find windows to evaluate") as connection:
        for model, rules in watched.items():
            if rules:
                plan.extend(_windows_due(connection, model, rules, cursors, now))
    for model, window_start, window_end, rules in plan:
        action = f"evaluate alerts of {model} window {iso_utc(window_start)}"
        with write_transaction(engine, action) as connection:
            report.merge(_evaluate(connection, config, rules, model, window_start, window_end, now))
    report.notifications += enqueue_repeats(engine, config, now)
    close_orphans(engine, config, now)
    return report


def _evaluate(
    connection: Connection,
    config: DriftwatchConfig,
    rules: Sequence[AlertRule],
    model: str,
    window_start: datetime,
    window_end: datetime,
    now: datetime,
) -> EvaluationReport:
    report = EvaluationReport()
    found = _complete_points(connection, model, window_start, window_end)
    if found is None:
        return report
    points, computed_at = found
    for rule in rules:
        if window_end + rule.delay > now:
            continue  # judged later, by evaluate_due, once the rule's delay has passed
        cursor = lock_cursor(connection, rule=rule.name, model=model, now=now)
        if cursor.recomputed(window_start, computed_at):
            _rejudge(connection, config, rule, cursor, model, points, window_start, window_end, now, report)
            advance_cursor(connection, cursor, window_start=window_start, window_end=window_end, now=now,
                           computed_at=computed_at)
            report.windows += 1
            continue
        if cursor.done(window_start):
            continue
        observations = {item.series: with_look_first(rule, item, points) for item in evaluate_rule(rule, points)}
        current = open_alerts_of(connection, rule=rule.name, model=model)
        for series in sorted(set(observations) | set(current), key=series_order):
            observation = observations.get(series) or no_data(*series)
            transition = advance(
                current.get(series), observation, rule=rule, model=model,
                window_start=window_start, window_end=window_end, now=now,
            )
            if not transition.changed:
                continue
            if transition.dropped:
                assert transition.before is not None and transition.before.id is not None
                delete_alert(connection, transition.before.id)
            elif transition.after is not None:
                transition = replace(transition, after=save_alert(connection, transition.after, now=now))
            report.transitions.append(transition)
            report.notifications += _notify(connection, config, rule, transition, observation.details,
                                            window_start, window_end, now)
        advance_cursor(connection, cursor, window_start=window_start, window_end=window_end, now=now,
                       computed_at=computed_at)
        report.windows += 1
    if report.transitions:
        _log.info("alerts evaluated", extra=fields(
            model=model, window_start=iso_utc(window_start), changes=len(report.transitions),
            notifications=report.notifications))
    return report


def _rejudge(
    connection: Connection,
    config: DriftwatchConfig,
    rule: AlertRule,
    cursor: Cursor,
    model: str,
    points: Mapping[str, Sequence[MetricPoint]],
    window_start: datetime,
    window_end: datetime,
    now: datetime,
    report: EvaluationReport,
) -> None:
    """Judge again a window recomputed after the rule judged it (see the module docstring)."""
    decides_alone = rule.for_ <= 1 or window_start == cursor.last_window_start
    if not decides_alone:
        return
    current = open_alerts_of(connection, rule=rule.name, model=model)
    for found in evaluate_rule(rule, points):
        observation = with_look_first(rule, found, points)
        if not observation.breach or observation.series in current:
            continue
        if covers_window(connection, rule=rule.name, model=model, feature=observation.feature,
                         window_start=window_start, segment=observation.segment, compare=observation.compare,
                         challenger=observation.model_version):
            continue
        transition = advance(None, observation, rule=rule, model=model, window_start=window_start,
                             window_end=window_end, now=now)
        assert transition.after is not None
        transition = replace(transition, after=save_alert(connection, transition.after, now=now))
        report.transitions.append(transition)
        report.notifications += _notify(connection, config, rule, transition, observation.details,
                                        window_start, window_end, now)


def _notify(
    connection: Connection,
    config: DriftwatchConfig,
    rule: AlertRule,
    transition: Transition,
    details: Mapping[str, Any],
    window_start: datetime,
    window_end: datetime,
    now: datetime,
) -> int:
    alert = transition.after
    if transition.event is None or alert is None:
        return 0
    if transition.event == "resolved" and not config.alerts.send_resolved:
        return 0
    return enqueue(
        connection,
        alert=alert,
        event=transition.event,
        channels=rule.channels,
        window_start=window_start,
        window_end=window_end,
        value=math.nan if alert.last_value is None else alert.last_value,
        details=details,
        marker=window_start,
        dashboard_base_url=config.dashboard.base_url,
        now=now,
    )


def _complete_points(
    connection: Connection, model: str, window_start: datetime, window_end: datetime
) -> tuple[dict[str, list[MetricPoint]], datetime] | None:
    """The window's points by model version and when it was last computed, or None
    when the window is partial or absent."""
    statement = select(
        metric_values.c.model_version, metric_values.c.metric, metric_values.c.feature,
        metric_values.c.value, metric_values.c.threshold, metric_values.c.is_breach,
        metric_values.c.is_partial, metric_values.c.details, metric_values.c.computed_at,
        metric_values.c.segment, metric_values.c["compare"],
    ).where(
        metric_values.c.model == model,
        metric_values.c.window_start == window_start,
        metric_values.c.window_end == window_end,
    )
    rows = connection.execute(statement).all()
    if not rows or any(row.is_partial for row in rows):
        return None
    points: dict[str, list[MetricPoint]] = defaultdict(list)
    for row in rows:
        points[row.model_version].append(MetricPoint(
            metric=row.metric,
            value=math.nan if row.value is None else float(row.value),
            feature=row.feature,
            threshold=row.threshold,
            is_breach=row.is_breach,
            details=row.details if isinstance(row.details, dict) else {},
            segment=row.segment,
            compare=row.compare,
        ))
    return dict(points), max(row.computed_at for row in rows)


def _models_with_points(connection: Connection) -> list[str]:
    return sorted(connection.execute(select(metric_values.c.model).distinct()).scalars())


def _windows_due(
    connection: Connection, model: str, rules: Sequence[AlertRule], cursors: Mapping[tuple[str, str], Cursor],
    now: datetime,
) -> list[tuple[str, datetime, datetime, list[AlertRule]]]:
    """The complete windows of ``model`` some rule still has to evaluate, oldest first,
    each with the rules that have to (a rule with a ``delay`` waits for it to pass)."""
    chosen = {rule.name: cursors[(rule.name, model)] for rule in rules}
    starts = [cursor.last_window_start for cursor in chosen.values()]
    throughs = [cursor.computed_through for cursor in chosen.values() if cursor.computed_through is not None]
    partial = func.max(case((metric_values.c.is_partial, 1), else_=0))
    computed_at = func.max(metric_values.c.computed_at)
    statement = (
        select(metric_values.c.window_start, metric_values.c.window_end, computed_at.label("computed_at"))
        .where(metric_values.c.model == model)
        .group_by(metric_values.c.window_start, metric_values.c.window_end)
        .having(partial == 0)
        .order_by(metric_values.c.window_start)
    )
    if all(start is not None for start in starts):
        newest = min(start for start in starts if start is not None)
        if throughs:  # windows already judged come back when recomputed since (see the module docstring)
            statement = statement.having(or_(metric_values.c.window_start > newest, computed_at > min(throughs)))
        else:
            statement = statement.where(metric_values.c.window_start > newest)
    rows = connection.execute(statement).all()
    windows = [(row.window_start, row.window_end) for row in rows]
    plan = []
    for index, (window_start, window_end) in enumerate(windows):
        due = [rule for rule in rules
               if window_end + rule.delay <= now and (_is_due(chosen[rule.name], rule, windows, index)
                                                       or chosen[rule.name].recomputed(window_start,
                                                                                       rows[index].computed_at))]
        if due:
            plan.append((model, window_start, window_end, due))
    return plan


def _is_due(cursor: Cursor, rule: AlertRule, windows: Sequence[tuple[datetime, datetime]], index: int) -> bool:
    window_start, window_end = windows[index]
    if cursor.last_window_start is not None:
        return window_start > cursor.last_window_start
    first_seen = cursor.evaluated_at
    if window_end > first_seen:
        return True
    # Windows that ended before the rule appeared: only the newest `for` of them.
    older = sum(1 for _, end in windows if end <= first_seen)
    return index >= older - rule.for_
