"""A baseline's columnar copy: the same rows as its JSON, labels that arrive later joined, built once."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import select

from monitor.store.reference_store import (
    ReferenceRecord,
    load_reference_json,
    load_reference_rows,
    save_reference_from_predictions,
    save_reference_records,
)
from monitor.store.tables import reference_sets
from tests.monitor.jobs.store_data import DAY, HOUR, Prediction, insert_predictions, upsert_labels
from tests.monitor.store.test_segments import _normal

TYPES = {"amount": "numeric", "country": "categorical"}


def rows_of(stored) -> list[tuple]:
    """In order: a baseline's row order is part of what it is."""
    outputs, features = stored.outputs, stored.features
    names = sorted(features.columns)
    return [tuple(repr(_normal(outputs[c].iloc[i])) for c in outputs.columns)
            + tuple(repr(_normal(features[n].iloc[i])) for n in names) for i in range(len(outputs))]


def copy_of(engine, set_id):
    with engine.connect() as connection:
        return connection.execute(select(reference_sets.c.columns).where(reference_sets.c.id == set_id)).scalar()


def records(count: int, seed: int) -> list[ReferenceRecord]:
    rng = random.Random(seed)
    return [ReferenceRecord(features={"amount": None if i % 9 == 0 else round(rng.gauss(5, 2), 6),
                                      "country": rng.choice(["DE", "FR"]), **({"extra": i} if i % 5 == 0 else {})},
                            prediction=str(i % 2), prediction_numeric=float(i % 2), score=rng.random(),
                            label=None if i % 3 == 0 else str(i % 2), label_numeric=None if i % 3 == 0 else i % 2)
            for i in range(count)]


def test_a_file_baseline_reads_the_same_from_its_copy(engine):
    info = save_reference_records(engine, model="fraud", model_version="*", source="file", records=records(300, 1),
                                  created_at=DAY)
    assert copy_of(engine, info.id) is None
    first = load_reference_rows(engine, info, TYPES)  # builds the copy
    assert copy_of(engine, info.id)
    again = load_reference_rows(engine, info, TYPES)
    expected = rows_of(load_reference_json(engine, info, TYPES))
    assert rows_of(first) == rows_of(again) == expected
    assert dict(again.features.dtypes) == dict(load_reference_json(engine, info, TYPES).features.dtypes)


def test_labels_that_arrive_after_the_copy_are_joined(engine):
    rows = [Prediction(f"p{i}", DAY + timedelta(minutes=i), {"amount": float(i), "country": "DE"}, prediction=i % 2,
                       score=i / 100) for i in range(40)]
    insert_predictions(engine, rows, ingested_at=DAY)
    upsert_labels(engine, {f"p{i}": 1 for i in range(0, 40, 4)}, ingested_at=DAY)
    info = save_reference_from_predictions(engine, model="fraud", model_version="v1", source="first 30",
                                           created_at=DAY, limit=30)
    assert info is not None
    load_reference_rows(engine, info, TYPES)
    upsert_labels(engine, {f"p{i}": 0 for i in range(1, 40, 4)}, ingested_at=DAY + HOUR)
    loaded = load_reference_rows(engine, info, TYPES)
    assert rows_of(loaded) == rows_of(load_reference_json(engine, info, TYPES))
    assert int(loaded.outputs["label"].notna().sum()) == 16  # 8 + 8 of the first 30


def test_mixed_feature_types_keep_the_baseline_on_json(engine):
    mixed = [*records(10, 2), ReferenceRecord(features={"amount": "n/a", "country": "DE"})]
    info = save_reference_records(engine, model="fraud", model_version="*", source="file", records=mixed,
                                  created_at=DAY)
    loaded = load_reference_rows(engine, info, TYPES)
    assert copy_of(engine, info.id) == b""
    assert "n/a" in loaded.features["amount"].tolist()
    assert rows_of(loaded) == rows_of(load_reference_json(engine, info, TYPES))
