"""A seeded store for tests and benchmarks: predictions and labels written as ingestion writes them.

Rows go through the store's own writers (:func:`monitor.store.batches.store_predictions`
and :class:`monitor.store.ingest_writer.IngestWriter`), so a seeded store has the
columnar batches a real one has, with an ``ingested_at`` the caller chooses and
without a Kafka round trip.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Engine

from monitor.ingest.records import LabelRecord, Origin, PredictionRecord
from monitor.store.batches import store_predictions
from monitor.store.dialect import dialect_of
from monitor.store.ingest_writer import IngestWriter

__all__ = ["SEED_ORIGIN", "label_record", "seed_labels", "seed_predictions"]

SEED_ORIGIN = Origin("seed", 0, 0)


def seed_predictions(engine: Engine, records: Sequence[PredictionRecord], *, ingested_at: datetime,
                     batch_rows: int | None = None) -> int:
    """Store ``records`` (one batch, or batches of ``batch_rows``, each its own transaction); returns how many."""
    size = batch_rows or max(len(records), 1)
    stored = 0
    for first in range(0, len(records), size):
        with dialect_of(engine).immediate(engine) as connection, connection.begin():
            stored += store_predictions(connection, records[first:first + size], ingested_at=ingested_at)
    return stored


def label_record(model: str, prediction_id: str, label: str, *, event_time: datetime,
                 label_numeric: float | None = None) -> LabelRecord:
    return LabelRecord(model=model, prediction_id=prediction_id, label=label, label_numeric=label_numeric,
                       event_time=event_time, origin=SEED_ORIGIN)


def seed_labels(engine: Engine, labels: Iterable[LabelRecord], *, ingested_at: datetime) -> int:
    """Store (or replace) labels as the ingest writer does; returns how many rows changed."""
    return IngestWriter(engine).write([], list(labels), [], ingested_at=ingested_at).labels_stored
