"""Baselines: saved with their columnar copy, read from it, labels that arrive later joined."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import select, text

from monitor.store.reference_store import (
    ReferenceRecord,
    load_reference_rows,
    save_reference_from_predictions,
    save_reference_records,
)
from monitor.store.tables import reference_sets
from tests.monitor.jobs.store_data import DAY, HOUR, Prediction, insert_predictions, upsert_labels
from tests.monitor.store.test_window_reader import _normal

TYPES = {"amount": "numeric", "country": "categorical"}


def rows_of(stored) -> list[tuple]:
    """In order: a baseline's row order is part of what it is."""
    outputs, features = stored.outputs, stored.features
    names = sorted(features.columns)
    columns = [outputs[c].tolist() for c in outputs.columns] + [features[n].tolist() for n in names]
    return [tuple(repr(_normal(column[i])) for column in columns) for i in range(len(outputs))]


def copy_of(engine, set_id):
    with engine.connect() as connection:
        return connection.execute(select(reference_sets.c.columns).where(reference_sets.c.id == set_id)).scalar()


def records(count: int, seed: int) -> list[ReferenceRecord]:
    rng = random.Random(seed)
    return [ReferenceRecord(features={"amount": None if i % 9 == 0 else round(rng.gauss(5, 2), 6),
                                      "country": rng.choice(["DE", "FR"]),
                                      **({"extra": f"x{i}"} if i % 5 == 0 else {})},
                            prediction=str(i % 2), prediction_numeric=float(i % 2), score=rng.random(),
                            label=None if i % 3 == 0 else str(i % 2), label_numeric=None if i % 3 == 0 else i % 2)
            for i in range(count)]


def expected_rows(records_: list[ReferenceRecord]) -> list[tuple]:
    names = sorted({name for record in records_ for name in record.features})
    outputs = [(record.prediction, record.prediction_numeric, record.score, None, None, record.label,
                None if record.label_numeric is None else float(record.label_numeric)) for record in records_]
    return [tuple(repr(value) for value in output) + tuple(repr(record.features.get(name)) for name in names)
            for output, record in zip(outputs, records_, strict=True)]


def test_a_file_baseline_is_saved_with_its_columnar_copy_and_read_from_it(engine):
    saved = records(300, 1)
    info = save_reference_records(engine, model="fraud", model_version="*", source="file", records=saved,
                                  created_at=DAY)
    assert copy_of(engine, info.id)  # written with the set, not on first read
    loaded = load_reference_rows(engine, info, TYPES)
    assert rows_of(loaded) == expected_rows(saved)
    assert str(loaded.features["amount"].dtype) == "float64"


def test_labels_that_arrive_or_are_corrected_after_the_save_are_joined(engine):
    rows = [Prediction(f"p{i}", DAY + timedelta(minutes=i), {"amount": float(i), "country": "DE"}, prediction=i % 2,
                       score=i / 100) for i in range(40)]
    insert_predictions(engine, rows, ingested_at=DAY)
    upsert_labels(engine, {f"p{i}": 1 for i in range(0, 40, 4)}, ingested_at=DAY)
    info = save_reference_from_predictions(engine, model="fraud", model_version="v1", source="first 30",
                                           created_at=DAY, limit=30)
    assert info is not None
    first = load_reference_rows(engine, info, TYPES)
    assert first.features["amount"].tolist() == [float(i) for i in range(30)]
    upsert_labels(engine, {f"p{i}": 0 for i in range(1, 40, 4)}, ingested_at=DAY + HOUR)
    with engine.begin() as connection:  # by hand, in SQL, with no rule to follow
        connection.execute(text("UPDATE labels SET label = '0', label_numeric = 0 WHERE prediction_id = 'p0'"))
    loaded = load_reference_rows(engine, info, TYPES)
    labels = [_normal(value) for value in loaded.outputs["label"]]
    assert labels[0] == "0" and labels[4] == "1" and labels[1] == "0" and labels[2] is None
    assert sum(label is not None for label in labels) == 16  # 8 + 8 of the first 30


def test_mixed_feature_types_keep_their_raw_values(engine):
    mixed = [*records(10, 2), ReferenceRecord(features={"amount": "n/a", "country": "DE"})]
    info = save_reference_records(engine, model="fraud", model_version="*", source="file", records=mixed,
                                  created_at=DAY)
    loaded = load_reference_rows(engine, info, TYPES)
    assert loaded.features["amount"].tolist()[-1] == "n/a"
    assert rows_of(loaded) == expected_rows(mixed)
