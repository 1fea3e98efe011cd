"""Helpers for the alerts tests: configs, metric windows in the store, and an HTTP
receiver that records what it got and answers as scripted."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Row, and_, delete, select

from monitor.config.loader import config_from_mapping
from monitor.config.models import DriftwatchConfig
from monitor.store.tables import alerts, metric_values, notifications

HOUR = timedelta(hours=1)
T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
DASHBOARD = "https://dw.example.com"

MODELS: dict[str, Any] = {
    "fraud": {
        "task": "binary_classification", "positive_label": 1, "window": "1h",
        "features": {"amount": {"type": "numeric", "min": 0}, "country": {"type": "categorical"}},
    },
    "churn": {"task": "regression", "window": "1h"},
}


def make_config(
    *, rules: Sequence[Mapping[str, Any]], channels: Mapping[str, Any], **alerts_settings: Any
) -> DriftwatchConfig:
    """A validated config as `driftwatch.yaml` would give it."""
    data = {
        "models": MODELS,
        "alerts": {"rules": list(rules), "channels": dict(channels), **alerts_settings},
        "dashboard": {"base_url": DASHBOARD},
    }
    return config_from_mapping(data, environ={})


def drift_rule(**overrides: Any) -> dict[str, Any]:
    rule = {
        "name": "fraud-data-drift", "model": "fraud", "metric": "dataset_drift_share", "feature": None,
        "when": "> 0.3", "for": 2, "severity": "critical", "channels": ["hook"],
    }
    rule.update(overrides)
    return rule


def window(hour: int) -> tuple[datetime, datetime]:
    return T0 + hour * HOUR, T0 + (hour + 1) * HOUR


def write_window(
    engine: Engine,
    hour: int,
    values: Mapping[tuple[str, str | None], float | None],
    *,
    model: str = "fraud",
    version: str = "v1",
    partial: bool = False,
    details: Mapping[str, Any] | None = None,
    computed_at: datetime | None = None,
) -> tuple[datetime, datetime]:
    """Save (or recompute: replace) metric points of window ``hour`` as the scheduler does
    (computed at ``computed_at``, default the window's end)."""
    start, end = window(hour)
    with engine.begin() as connection:
        for (metric, feature), value in values.items():
            same = and_(
                metric_values.c.model == model, metric_values.c.model_version == version,
                metric_values.c.window_start == start, metric_values.c.metric == metric,
                metric_values.c.feature.is_(None) if feature is None else metric_values.c.feature == feature,
            )
            connection.execute(delete(metric_values).where(same))
            connection.execute(metric_values.insert().values(
                model=model, model_version=version, window_start=start, window_end=end, metric=metric,
                feature=feature, value=value, threshold=None, is_breach=None, is_partial=partial,
                details=dict(details or {"method": "test"}), computed_at=computed_at or end,
            ))
    return start, end


def drift(engine: Engine, hour: int, share: float | None, **kwargs: Any) -> tuple[datetime, datetime]:
    return write_window(engine, hour, {("dataset_drift_share", None): share}, **kwargs)


def notification_rows(engine: Engine) -> list[Row[Any]]:
    with engine.connect() as connection:
        return list(connection.execute(select(notifications).order_by(notifications.c.id)).all())


def alert_rows(engine: Engine) -> list[Row[Any]]:
    with engine.connect() as connection:
        return list(connection.execute(select(alerts).order_by(alerts.c.id)).all())


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
