"""A store written at revision 0010 upgrades in place (0011 segments, 0012 compare, 0013 row format), on both.

The old store is written as the code of revision 0010 wrote it: predictions and
labels as rows only, compaction segments and their progress, baselines with their
rows in ``reference_data``. After the upgrade every window and baseline reads the
same as in a store written by today's ingestion.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, inspect, select, text

from monitor.store.engine import create_store_engine
from monitor.store.reference_store import (
    ReferenceRecord,
    load_reference_rows,
    save_reference_from_predictions,
    save_reference_records,
)
from monitor.store.schema import head_revision, upgrade_schema
from monitor.store.tables import labels, prediction_batches, predictions
from monitor.store.window_reader import load_window
from tests.monitor.jobs.store_data import DAY, HOUR, Prediction, _text, insert_predictions, upsert_labels

ROWS = [
    Prediction(f"p{i}", DAY + timedelta(minutes=7 * i), {"amount": "n/a" if i == 5 else i / 4, "country": "DE",
                                                          **({"flag": True} if i % 3 else {})},
               prediction=i % 2, score=i / 40, latency_ms=None if i == 2 else 3.0 + i,
               model_version="v2" if i % 4 == 3 else "v1")
    for i in range(20)
]
LABELS = {"p1": 1, "p2": "0", "p9": 1, "p12": 0}
FILE = [ReferenceRecord(features={"amount": 1.5, "country": "FR"}, prediction="1", prediction_numeric=1.0,
                        score=0.5, label="1", label_numeric=1.0),
        ReferenceRecord(features={"amount": "x", "country": None}, prediction="0", prediction_numeric=0.0)]


@pytest.fixture(params=["sqlite", "postgresql"])
def urls(request, tmp_path):
    """Two empty stores of one backend: the old one (upgraded) and a new one (written by today's code)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}", f"sqlite:///{tmp_path / 'new.db'}"
    server = request.getfixturevalue("postgres_server")
    return tuple(server.create_database(f"{kind}_{uuid.uuid4().hex[:12]}") for kind in ("u", "n"))


def write_as_revision_0010(engine) -> None:
    """Rows, segments bookkeeping and baselines as the code of revision 0010 stored them."""
    with engine.begin() as connection:
        for row in ROWS:
            text_, numeric = _text(row.prediction)
            connection.execute(insert(predictions).values(
                model=row.model, model_version=row.model_version, prediction_id=row.prediction_id,
                event_time=row.event_time, features=row.features, prediction=text_, prediction_numeric=numeric,
                score=row.score, latency_ms=row.latency_ms, status=row.status, ingested_at=DAY + HOUR))
        for prediction_id, label in LABELS.items():
            text_, numeric = _text(label)
            connection.execute(insert(labels).values(model="fraud", prediction_id=prediction_id, label=text_,
                                                     label_numeric=numeric, event_time=DAY, ingested_at=DAY + HOUR))
        connection.execute(text("INSERT INTO segment_progress (name, last_id, updated_at) "
                                "VALUES ('predictions', 10, '2026-03-02 01:00:00')"))
    # Baselines were saved by the same functions (they write reference_data as before).
    save_reference_rows(engine)


def save_reference_rows(engine) -> None:
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO reference_sets (model, model_version, source, row_count, created_at) "
            "VALUES ('fraud', 'v1', 'first 6', 6, '2026-03-02 01:00:00'), "
            "('fraud', '*', 'file', 2, '2026-03-02 01:00:00')"))
        ids = dict(connection.execute(text("SELECT source, id FROM reference_sets")).all())
        connection.execute(text(
            "INSERT INTO reference_data (reference_set_id, row_index, features, prediction, prediction_numeric, "
            "score, prediction_id) SELECT :set_id, row_number() OVER (ORDER BY event_time, id) - 1, features, "
            "prediction, prediction_numeric, score, prediction_id FROM predictions "
            "WHERE model = 'fraud' AND model_version = 'v1' ORDER BY event_time, id LIMIT 6"),
            {"set_id": ids["first 6"]})
        for index, record in enumerate(FILE):
            connection.execute(text(
                "INSERT INTO reference_data (reference_set_id, row_index, features, prediction, prediction_numeric, "
                "score, label, label_numeric) VALUES (:set_id, :index, :features, :prediction, :numeric, :score, "
                ":label, :label_numeric)"),
                {"set_id": ids["file"], "index": index, "features": json.dumps(record.features),
                 "prediction": record.prediction, "numeric": record.prediction_numeric, "score": record.score,
                 "label": record.label, "label_numeric": record.label_numeric})


def values(rows) -> dict[str, list]:
    def normal(value):
        return None if value is None or value != value else value

    frame = {**{f"o:{name}": rows.outputs[name].tolist() for name in rows.outputs.columns},
             **{f"f:{name}": rows.features[name].tolist() for name in rows.features.columns}}
    return {name: [normal(value) for value in column] for name, column in frame.items()}


def windows(engine) -> list:
    found = []
    for version in ("v1", "v2"):
        for start in (DAY, DAY + HOUR, DAY + 2 * HOUR):
            window = load_window(engine, model="fraud", model_version=version, start=start, end=start + HOUR)
            found.append((version, start, values(window.rows), window.watermark))
    return found


def baselines(engine) -> list:
    from monitor.store.reference_store import find_reference_set

    with engine.connect() as connection:
        infos = [find_reference_set(connection, model="fraud", model_version=key) for key in ("v1", "*")]
    return [values(load_reference_rows(engine, info)) for info in infos if info is not None]


def test_a_store_written_at_revision_0010_upgrades_in_place_and_reads_the_same(urls):
    old = create_store_engine(urls[0])
    upgrade_schema(old, "0010")
    write_as_revision_0010(old)
    upgrade_schema(old)
    assert upgrade_schema(old)[0] == head_revision()
    tables = set(inspect(old).get_table_names())
    assert "prediction_batches" in tables
    assert not tables & {"prediction_segments", "label_segments", "segment_progress"}
    with old.connect() as connection:
        assert connection.execute(select(func.sum(prediction_batches.c.row_count))).scalar_one() == len(ROWS)

    new = create_store_engine(urls[1])
    upgrade_schema(new)
    insert_predictions(new, ROWS, ingested_at=DAY + HOUR)
    upsert_labels(new, LABELS, ingested_at=DAY + HOUR)
    save_reference_from_predictions(new, model="fraud", model_version="v1", source="first 6", created_at=DAY,
                                    version_filter="v1", limit=6)
    save_reference_records(new, model="fraud", model_version="*", source="file", records=FILE, created_at=DAY)

    assert windows(old) == windows(new)
    # A baseline copied before baselines kept latency and status reads the same, without them
    # (learned latency / error-rate thresholds then say the reference has none).
    serving = ("o:latency_ms", "o:status")
    [old_copied, old_file], [new_copied, new_file] = baselines(old), baselines(new)
    assert all(value is None for name in serving for value in old_copied[name])
    assert new_copied["o:latency_ms"] == [row.latency_ms for row in ROWS if row.model_version == "v1"][:6]
    assert ({k: v for k, v in old_copied.items() if k not in serving}
            == {k: v for k, v in new_copied.items() if k not in serving})
    assert old_file == new_file
    assert sum(len(window[2]["o:prediction"]) for window in windows(old)) == len(ROWS)
    old.dispose()
    new.dispose()
