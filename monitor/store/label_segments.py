"""Columnar labels: a window's labels without joining each of its predictions to ``labels``.

Reading a window's labels with a join probes ``labels`` once per prediction: about a
million index lookups for a million-row window, the largest cost of reading one
once its features come from segments. Compaction (:func:`compact_labels`, run
after :func:`~monitor.store.segments.compact_predictions`) instead copies each
(prediction, label) pair, once, into ``label_segments``: Arrow tables of the
prediction's row id and event time with the label's id, text, number and
ingested_at. A window reads its pairs from the segments overlapping it, plus the
pairs not compacted yet from SQL, and keeps the newest label of each prediction.

Labels change: a label that replaces another gets a new id (the ingest writer sets
it, see :func:`monitor.store.ingest_writer.next_label_id_sql`), so label ids follow
the order in which labels were stored, like prediction ids. (A label corrected by
hand with an UPDATE that keeps its id is not seen here; the README says how to do it.) Two progress rows in
``segment_progress`` hold the invariant: every pair whose label id is at most
``labels`` *and* whose prediction id is at most ``labelled_predictions`` is in a
segment. A step moves one of the two bounds and copies exactly the pairs that
the move brings in:

- predictions ``(pp, P]`` with labels ``<= lb`` (a label stored before its prediction);
- labels ``(lb, L]`` with predictions ``<= pp`` (the usual late label).

A window's uncompacted pairs are those with a label id above ``lb`` or a
prediction id above ``pp``. A replaced label stays in its old segment; the reader
keeps, per prediction, the pair with the highest label id, which is the label
``labels`` holds now. The bounds are read under ``SHARE`` locks on PostgreSQL (as
for predictions), and advanced by compare-and-set with the segments they cover.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, Engine, insert

from monitor.logs import fields
from monitor.store.arrow_rows import (
    by_model_version,
    deserialise_table,
    from_micros,
    micros_sql,
    query_rows,
    serialise_table,
    stored_payloads,
)
from monitor.store.segments import (
    CHUNK_ROWS,
    DEFAULT_MAX_ROWS,
    advance_progress,
    batch_due,
    committed_high_ids,
    high_id,
    progress,
    waiting_since,
)
from monitor.store.tables import label_segments, labels, predictions

__all__ = ["LABEL_TAIL_LIMIT", "LabelCompactionReport", "compact_labels", "label_compaction_due", "read_window_labels"]

log = logging.getLogger("driftwatch.segments")

LABELS: Final = "labels"
LABELLED_PREDICTIONS: Final = "labelled_predictions"
LABEL_TAIL_LIMIT: Final = 250_000
"""A window joins its labels in SQL, as before label segments, while more ids than this wait."""

_PAIR_TYPES: Final = {
    "id": pa.int64(), "model": pa.string(), "model_version": pa.string(), "event_us": pa.int64(),
    "label_id": pa.int64(), "label": pa.string(), "label_numeric": pa.float64(), "ingested_us": pa.int64(),
}
_STORED: Final = ("id", "event_us", "label_id", "label", "label_numeric", "ingested_us")
# SQLite's CROSS JOIN keeps the tables in the order written: the side bounded by an id
# range is read by that range, and the other probed by its (model, prediction_id) key.
_JOIN: Final = {"sqlite": "CROSS JOIN", "postgresql": "JOIN"}
_BY_ID: Final = {"sqlite": " NOT INDEXED", "postgresql": ""}


def _bounds(connection: Connection) -> tuple[int, int]:
    """(labels, labelled_predictions): the ids up to which every pair is in a segment."""
    return progress(connection, LABELS), progress(connection, LABELLED_PREDICTIONS)


def _pairs_sql(dialect: str, outer: str, where: str) -> str:
    """Pairs (columns :data:`_PAIR_TYPES`) matching ``where``; ``outer`` ('p' or 'l') drives the join."""
    predictions, labels_ = f"predictions p{_BY_ID[dialect]}", f"labels l{_BY_ID[dialect]}"
    first, second = (predictions, "labels l") if outer == "p" else (labels_, "predictions p")
    return (
        f"SELECT p.id, p.model, p.model_version, {micros_sql('p.event_time', dialect)}, l.id, l.label, "
        f"l.label_numeric, {micros_sql('l.ingested_at', dialect)} "
        f"FROM {first} {_JOIN[dialect]} {second} ON l.model = p.model AND l.prediction_id = p.prediction_id "
        f"WHERE {where}"
    )


@dataclass(frozen=True, slots=True)
class LabelCompactionReport:
    """What one :func:`compact_labels` call did."""

    pairs: int
    segments: int
    last_label_id: int
    last_prediction_id: int
    seconds: float


def _segments_of(pairs: pa.Table) -> list[dict[str, Any]]:
    """One ``label_segments`` row per (model, version) among ``pairs``."""
    rows = []
    for model, version, group in by_model_version(pairs):
        part = group.select(list(_STORED))
        events = part.column("event_us")
        rows.append({"model": model, "model_version": version, "row_count": part.num_rows,
                     "min_event_time": from_micros(pc.min(events).as_py()),
                     "max_event_time": from_micros(pc.max(events).as_py()), "data": serialise_table(part)})
    return rows


def label_compaction_due(engine: Engine, *, now: datetime, min_rows: int | None = None,
                         max_wait: timedelta | None = None) -> bool:
    """Whether :func:`compact_labels` has a batch to do (as :func:`~monitor.store.segments.compaction_due`)."""
    with engine.connect() as connection:
        lb, pp = _bounds(connection)
        high_l, high_p = high_id(connection, "labels"), high_id(connection, "predictions")
        # New predictions only count once some label is covered (before that they pair with none).
        waiting_predictions = max(0, high_p - pp) if lb else 0
        waiting = max(0, high_l - lb) + waiting_predictions
        if waiting == 0:
            return False
        since = [waiting_since(connection, labels, lb)]
        if waiting_predictions:
            since.append(waiting_since(connection, predictions, pp))
        oldest = min((moment for moment in since if moment is not None), default=None)
    return batch_due(waiting, oldest, now=now, min_rows=min_rows, max_wait=max_wait)


def compact_labels(engine: Engine, *, max_rows: int = DEFAULT_MAX_ROWS, now: datetime | None = None
                   ) -> LabelCompactionReport:
    """Copy the (prediction, label) pairs not yet in a segment into segments (see the module docstring)."""
    started = time.perf_counter()
    dialect = engine.dialect.name
    high_p, high_l = committed_high_ids(engine, "predictions", "labels")
    with engine.connect() as connection:
        lb, pp = _bounds(connection)
    scanned = pairs = segments = 0
    while (pp < high_p or lb < high_l) and scanned < max_rows:
        if pp < high_p:
            # New predictions against the labels already covered; none when no label is.
            new_lb, new_pp = lb, (high_p if lb == 0 else min(high_p, pp + CHUNK_ROWS))
            sql, params = _pairs_sql(dialect, "p", "p.id > {p} AND p.id <= {p} AND l.id <= {p}"), (pp, new_pp, lb)
            step = 0 if lb == 0 else new_pp - pp
        else:
            new_lb, new_pp = min(high_l, lb + CHUNK_ROWS), pp
            sql, params = _pairs_sql(dialect, "l", "l.id > {p} AND l.id <= {p} AND p.id <= {p}"), (lb, new_lb, pp)
            step = new_lb - lb
        rows: list[dict[str, Any]] = []
        if step:
            with engine.connect() as connection, connection.begin():
                found = query_rows(connection, sql, params, _PAIR_TYPES)
            rows = _segments_of(found)
        moment = now or datetime.now(UTC)
        with engine.connect().execution_options(sqlite_immediate=True) as connection, \
                connection.begin() as transaction:
            if not (advance_progress(connection, LABELS, lb, new_lb, moment)
                    and advance_progress(connection, LABELLED_PREDICTIONS, pp, new_pp, moment)):
                transaction.rollback()
                log.info("another scheduler is compacting labels; leaving it to it",
                         extra=fields(last_label_id=lb, last_prediction_id=pp))
                break
            if rows:
                connection.execute(insert(label_segments), [{**row, "created_at": moment} for row in rows])
        scanned += step
        pairs += sum(row["row_count"] for row in rows)
        segments += len(rows)
        lb, pp = new_lb, new_pp
    report = LabelCompactionReport(pairs=pairs, segments=segments, last_label_id=lb, last_prediction_id=pp,
                                   seconds=time.perf_counter() - started)
    if pairs:
        log.info("labels compacted", extra=fields(pairs=pairs, segments=segments, last_label_id=lb,
                                                   seconds=round(report.seconds, 2)))
    return report


def _segment_pairs(connection: Connection, window: Sequence[Any]) -> list[pa.Table]:
    model, version, start, end = window
    stored = stored_payloads(
        connection, "label_segments",
        "model = {p} AND model_version = {p} AND min_event_time < {p} AND max_event_time >= {p}",
        (model, version, end, start))
    return [deserialise_table(data) for data in stored if data is not None]


def read_window_labels(connection: Connection, window: Sequence[Any], start_us: int, end_us: int
                       ) -> tuple[pa.Table, int | None] | None:
    """The window's labels (``id``, ``label``, ``label_numeric``) and their newest ingested_at.

    ``window`` is (model, version, start, end) as bound for the store. None when
    label compaction has not run or is more than :data:`LABEL_TAIL_LIMIT` ids behind:
    then the caller joins in SQL.
    """
    lb, pp = _bounds(connection)
    if pp == 0:
        return None
    high_p, high_l = high_id(connection, "predictions"), high_id(connection, "labels")
    if high_p - pp > LABEL_TAIL_LIMIT or high_l - lb > LABEL_TAIL_LIMIT:
        return None
    dialect = connection.dialect.name
    in_window = "p.model = {p} AND p.model_version = {p} AND p.event_time >= {p} AND p.event_time < {p}"
    parts = [part for part in _segment_pairs(connection, window) if part.num_rows]
    for outer, bound, value in (("l", "l.id > {p}", lb), ("p", "p.id > {p} AND l.id <= {p}", pp)):
        params = (value, lb) if outer == "p" else (value,)
        tail = query_rows(connection, _pairs_sql(dialect, outer, f"{bound} AND {in_window}"),
                          (*params, *window), _PAIR_TYPES)
        parts.append(tail.select(list(_STORED)))
    pairs = pa.concat_tables(parts)
    events = pairs.column("event_us")
    pairs = pairs.filter(pc.and_(pc.greater_equal(events, start_us), pc.less(events, end_us)))
    return _newest_per_prediction(pairs)


def _newest_per_prediction(pairs: pa.Table) -> tuple[pa.Table, int | None]:
    """Per prediction, the pair with the highest label id (the label ``labels`` holds now)."""
    ids = pairs.column("id").to_numpy()
    label_ids = pairs.column("label_id").to_numpy()
    order = np.lexsort((label_ids, ids))
    sorted_ids = ids[order]
    last = np.ones(sorted_ids.size, dtype=bool)
    last[:-1] = sorted_ids[1:] != sorted_ids[:-1]
    kept = pairs.take(pa.array(order[last]))
    newest = pc.max(kept.column("ingested_us")).as_py()
    return kept.select(["id", "label", "label_numeric"]), newest
