"""Which windows have data, and how fresh it is: the scheduler's scan of the store.

For one model, per (model_version, window) the newest ``ingested_at`` of the
window's predictions and of the labels joined to them — optionally only among rows
ingested after a given time (the cheap incremental scan each tick, served by the
``(model, ingested_at)`` indexes) and only for event times in a range (a backfill).
Windows are numbered as in :mod:`monitor.jobs.windows` (whole windows since the
epoch) and grouped in SQL, so a scan returns one row per window, not per prediction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Integer, String, bindparam, text
from sqlalchemy.sql.elements import BindParameter

from monitor.errors import ConfigError
from monitor.store.dialect import dialect_of
from monitor.store.tables import UTCDateTime

__all__ = ["WindowActivity", "scan_activity", "window_seconds"]


@dataclass(frozen=True, slots=True)
class WindowActivity:
    """Data of one model version in window number ``index``, newest ingested at ``newest``."""

    model_version: str
    index: int
    newest: datetime


def window_seconds(size: timedelta) -> int:
    """The window size in whole seconds (the unit SQL groups by)."""
    seconds = size.total_seconds()
    if seconds < 1 or seconds != int(seconds):
        raise ConfigError(f"window {size} is not a whole number of seconds; set models.<model>.window to e.g. 5m or 1h")
    return int(seconds)


def _query(bucket: str, *, labels: bool, since: bool, event_range: bool) -> str:
    if labels:
        sql = (f"SELECT p.model_version AS version, {bucket} AS bucket, MAX(l.ingested_at) AS newest "
               "FROM labels l JOIN predictions p ON p.model = l.model AND p.prediction_id = l.prediction_id "
               "WHERE l.model = :model")
        if since:
            sql += " AND l.ingested_at > :since"
    else:
        sql = (f"SELECT p.model_version AS version, {bucket} AS bucket, MAX(p.ingested_at) AS newest "
               "FROM predictions p WHERE p.model = :model")
        if since:
            sql += " AND p.ingested_at > :since"
    if event_range:
        sql += " AND p.event_time >= :event_from AND p.event_time < :event_to"
    return sql + " GROUP BY p.model_version, bucket"


def scan_activity(
    engine: Engine,
    *,
    model: str,
    size: timedelta,
    ingested_after: datetime | None = None,
    event_from: datetime | None = None,
    event_to: datetime | None = None,
) -> list[WindowActivity]:
    """Per (version, window) with data, the newest ingested_at of predictions and labels.

    ``ingested_after`` limits the scan to rows ingested after it; ``event_from``/
    ``event_to`` (both or neither) to event times in ``[event_from, event_to)``.
    """
    seconds = window_seconds(size)
    bucket = dialect_of(engine).bucket_sql("p.event_time", ":size")
    event_range = event_from is not None and event_to is not None
    params: dict[str, Any] = {"model": model, "size": seconds}
    binds: list[BindParameter[Any]] = [bindparam("model", type_=String()), bindparam("size", type_=Integer())]
    if ingested_after is not None:
        params["since"] = ingested_after
        binds.append(bindparam("since", type_=UTCDateTime()))
    if event_range:
        params.update(event_from=event_from, event_to=event_to)
        binds += [bindparam("event_from", type_=UTCDateTime()), bindparam("event_to", type_=UTCDateTime())]
    newest: dict[tuple[str, int], datetime] = {}
    with engine.connect() as connection:
        for labels in (False, True):
            statement = (
                text(_query(bucket, labels=labels, since=ingested_after is not None, event_range=event_range))
                .bindparams(*binds)
                .columns(version=String(), bucket=Integer(), newest=UTCDateTime())
            )
            for row in connection.execute(statement, params):
                key = (row.version, int(row.bucket))
                if row.newest is not None and (key not in newest or row.newest > newest[key]):
                    newest[key] = row.newest
    return _sorted(newest)


def _sorted(newest: dict[tuple[str, int], datetime]) -> list[WindowActivity]:
    items: Sequence[tuple[tuple[str, int], datetime]] = sorted(
        newest.items(), key=lambda item: (item[0][1], item[0][0])
    )
    return [WindowActivity(model_version=version, index=index, newest=moment) for (version, index), moment in items]
