"""A window's rows from columnar segments, the uncompacted tail and the labels.

See :mod:`monitor.store.segments` for how segments are made and why they are safe to
read. Everything is read in the caller's snapshot; the result has the same rows as
the JSON read (:func:`monitor.store.stored_rows.read_stored_rows`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection

from monitor.store.arrow_rows import (
    KEPT_COLUMNS,
    ROW_TYPES,
    deserialise_table,
    feature_columns,
    from_micros,
    micros_sql,
    prediction_rows_sql,
    query_rows,
    split_by_version,
    stored_payloads,
    to_micros,
)
from monitor.store.label_segments import read_window_labels
from monitor.store.postgres_rows import parse_tab_text
from monitor.store.segments import compacted_up_to, high_id
from monitor.store.stored_rows import SQLITE_TIME_FORMAT, bind_time

__all__ = ["TAIL_LIMIT", "SegmentedWindow", "read_segmented_window"]

TAIL_LIMIT: Final = 250_000
"""A window reads wholly from JSON while more predictions than this wait for compaction."""


@dataclass(frozen=True, slots=True)
class SegmentedWindow:
    """A window's rows from segments + tail: output columns (with labels) and feature chunks."""

    outputs: pa.Table
    features: list[pa.Table]
    newest_ingested: datetime | None


def _in_window(table: pa.Table, start_us: int, end_us: int) -> pa.Table:
    events = table.column("event_us")
    if pc.min(events).as_py() >= start_us and pc.max(events).as_py() < end_us:
        return table
    keep = pc.and_(pc.greater_equal(events, start_us), pc.less(events, end_us))
    return table.filter(keep)


def _labels_sql(dialect: str) -> str:
    return (
        f"SELECT p.id, l.label, l.label_numeric, {micros_sql('l.ingested_at', dialect)} "
        "FROM predictions p JOIN labels l ON l.model = p.model AND l.prediction_id = p.prediction_id "
        "WHERE p.model = {p} AND p.model_version = {p} AND p.event_time >= {p} AND p.event_time < {p}"
    )


_LABEL_TYPES: Final = {"id": pa.int64(), "label": pa.string(), "label_numeric": pa.float64(),
                       "ingested_us": pa.int64()}

# SQLite builds the window's labels as one tab-separated text (no Python tuple per
# label). SQLite cannot print every REAL exactly, so label_numeric is not printed:
# the flag says whether the label text parses (by SQLite) to exactly label_numeric,
# and then the number is parsed from the text (by Arrow; both parse a number's
# shortest text, which is what ingestion stores, to the same double). A label whose
# text does not (or that Arrow cannot parse) sends the window down the exact query.
_SQLITE_LABELS: Final = (
    "SELECT group_concat(p.id || char(9) || char(1) || replace(l.label, char(1), char(1) || char(1)) || char(1) "
    "|| char(9) || CASE WHEN l.label_numeric IS NULL THEN 'n' "
    "WHEN CAST(l.label AS REAL) = l.label_numeric THEN 't' ELSE 'x' END "
    "|| char(9) || l.ingested_at, char(10)) "
    "FROM predictions p JOIN labels l ON l.model = p.model AND l.prediction_id = p.prediction_id "
    "WHERE p.model = ? AND p.model_version = ? AND p.event_time >= ? AND p.event_time < ?"
)
_SQLITE_LABEL_TYPES: Final = {"id": pa.int64(), "label": pa.string(), "numeric": pa.string(),
                              "ingested_at": pa.string()}


def _sqlite_labels(connection: Connection, window: Sequence[Any]) -> tuple[pa.Table, int | None] | None:
    """The window's labels and their newest ingested_at (see ``_SQLITE_LABELS``).

    None when a label needs the exact query.
    """
    driver = connection.connection.driver_connection
    assert driver is not None
    cursor = driver.cursor()
    try:
        (text,) = cursor.execute(_SQLITE_LABELS, tuple(window)).fetchone()
    finally:
        cursor.close()
    if not text:
        return pa.schema([(name, _LABEL_TYPES[name]) for name in ("id", "label", "label_numeric")]).empty_table(), None
    table = parse_tab_text(text.encode("utf-8"), _SQLITE_LABEL_TYPES)
    flags = table.column("numeric")
    if pc.any(pc.equal(flags, "x")).as_py():
        return None
    numeric = pc.equal(flags, "t")
    try:
        parsed = pc.cast(pc.if_else(numeric, table.column("label"), None), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    # The stored text sorts like the time; only the newest is turned into a number.
    newest = datetime.strptime(pc.max(table.column("ingested_at")).as_py(), SQLITE_TIME_FORMAT)
    labels = pa.table({"id": table.column("id"), "label": table.column("label"), "label_numeric": parsed})
    return labels, to_micros(newest.replace(tzinfo=UTC))


def _segment_data(connection: Connection, model: str, model_version: str, start: datetime,
                  end: datetime) -> list[bytes | None]:
    """The payloads of the segments overlapping ``[start, end)``, in id order."""
    return stored_payloads(
        connection, "prediction_segments",
        "model = {p} AND model_version = {p} AND min_event_time < {p} AND max_event_time >= {p}",
        (model, model_version, bind_time(connection, end), bind_time(connection, start)), order="first_id")


def read_segmented_window(
    connection: Connection,
    *,
    model: str,
    model_version: str,
    start: datetime,
    end: datetime,
    feature_types: Mapping[str, str],
) -> SegmentedWindow | None:
    """The window from segments, or None when it must be read from JSON.

    None when nothing is compacted yet, when compaction is more than
    :data:`TAIL_LIMIT` predictions behind, or when a segment overlapping the window
    (or its tail) has rows the columnar parser could not type.
    """
    compacted = compacted_up_to(connection)
    if compacted == 0:
        return None
    # The tail is read whole, not streamed: a long one (compaction far behind, e.g.
    # just after an upgrade) goes the streaming JSON way instead.
    if high_id(connection, "predictions") - compacted > TAIL_LIMIT:
        return None
    dialect = connection.dialect.name
    start_us, end_us = to_micros(start), to_micros(end)
    stored = _segment_data(connection, model, model_version, start, end)
    payloads = [data for data in stored if data is not None]
    if len(payloads) < len(stored):
        return None
    parts = [_in_window(deserialise_table(data), start_us, end_us) for data in payloads]
    window = (model, model_version, bind_time(connection, start), bind_time(connection, end))
    where = ("p.model = {p} AND p.model_version = {p} AND p.event_time >= {p} AND p.event_time < {p} "
             "AND p.id > {p}")
    tail = split_by_version(query_rows(connection, prediction_rows_sql(dialect, where), (*window, compacted),
                                       ROW_TYPES), {model: feature_types})
    if any(group.table is None for group in tail):
        return None
    parts += [group.table for group in tail if group.table is not None]
    parts = [part for part in parts if part.num_rows]
    labelled = read_window_labels(connection, window, start_us, end_us)
    if labelled is None and dialect == "sqlite":
        labelled = _sqlite_labels(connection, window)
    if labelled is None:
        exact = query_rows(connection, _labels_sql(dialect), window, _LABEL_TYPES)
        labelled = exact.drop_columns(["ingested_us"]), pc.max(exact.column("ingested_us")).as_py()
    return _assemble(parts, *labelled)


def _label_rows(prediction_ids: pa.ChunkedArray, label_ids: pa.ChunkedArray) -> pa.Array:
    """For each prediction, the row of its label (null: none).

    Segments come in id order, so the predictions' ids are usually sorted and a
    binary search finds the labels; otherwise a hash lookup does.
    """
    ids = prediction_ids.to_numpy()
    if ids.size > 1 and not bool((ids[1:] > ids[:-1]).all()):
        return pc.index_in(prediction_ids, value_set=label_ids.combine_chunks())
    wanted = label_ids.to_numpy()
    found = np.searchsorted(ids, wanted).clip(max=max(ids.size - 1, 0))
    present = ids[found] == wanted if ids.size else np.zeros(wanted.size, dtype=bool)
    rows = np.full(ids.size, -1, dtype=np.int64)
    rows[found[present]] = np.flatnonzero(present)
    return pa.array(rows, mask=rows < 0)


def _assemble(parts: list[pa.Table], labels: pa.Table, labels_newest_us: int | None) -> SegmentedWindow:
    if parts:
        outputs = pa.concat_tables([part.select(list(KEPT_COLUMNS)) for part in parts])
    else:
        outputs = pa.schema([(name, ROW_TYPES[name]) for name in KEPT_COLUMNS]).empty_table()
    where = _label_rows(outputs.column("id"), labels.column("id"))
    outputs = outputs.append_column("label", labels.column("label").take(where))
    outputs = outputs.append_column("label_numeric", labels.column("label_numeric").take(where))
    newest = max((value for value in (pc.max(outputs.column("ingested_us")).as_py(), labels_newest_us)
                  if value is not None), default=None)
    return SegmentedWindow(outputs=outputs, features=[feature_columns(part) for part in parts],
                           newest_ingested=None if newest is None else from_micros(newest))
