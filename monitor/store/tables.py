"""The SQL contract: every table driftwatch owns, as SQLAlchemy Core metadata.

Alembic migrations (``monitor/store/migrations``) create exactly this schema and
``sql/schema.sql`` is generated from it (a test keeps the two in sync).
Timestamps are stored in UTC: ``timestamptz`` on PostgreSQL, ISO text on SQLite.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

__all__ = [
    "metadata",
    "predictions",
    "labels",
    "dead_letters",
    "reference_sets",
    "reference_data",
    "reference_models",
    "metric_values",
    "window_state",
    "alerts",
    "alert_evaluations",
    "notifications",
    "silences",
    "job_runs",
    "prediction_batches",
    "UTCDateTime",
]

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to the store; pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _id() -> Column[Any]:
    # SQLite only autoincrements INTEGER PRIMARY KEY, PostgreSQL wants BIGINT.
    return Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)


JSONType = JSON().with_variant(JSONB(), "postgresql")
# A prediction's features are written once per event and read back whole, as text, for
# a window: PostgreSQL's `json` keeps the text as sent (no binary conversion on the
# way in, no re-rendering on the way out), about 10 µs less per row each way than
# jsonb. `features ->> 'name'` works the same for analysts.
FeaturesJSON = JSON()

predictions = Table(
    "predictions",
    metadata,
    _id(),
    Column("model", String(64), nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("prediction_id", String(128), nullable=False),
    Column("event_time", UTCDateTime(), nullable=False),
    Column("features", FeaturesJSON, nullable=False),
    Column("prediction", Text, nullable=False, comment="the prediction as text (class label or value)"),
    Column("prediction_numeric", Float, comment="the prediction as a number when it is one"),
    Column("score", Float),
    Column("probabilities", JSONType),
    Column("latency_ms", Float),
    Column("status", String(8), nullable=False, server_default="ok"),
    Column("error", Text),
    Column("extra", JSONType, comment="unknown top-level message fields, kept as sent"),
    Column("kafka_topic", String(255)),
    Column("kafka_partition", Integer),
    Column("kafka_offset", BigInteger),
    Column("ingested_at", UTCDateTime(), nullable=False),
    UniqueConstraint("model", "prediction_id"),
    CheckConstraint("status IN ('ok', 'error')", name="status"),
    Index(None, "model", "event_time", "model_version", "prediction_id"),  # covers a window's labels join
    Index(None, "model", "ingested_at"),
)

labels = Table(
    "labels",
    metadata,
    _id(),
    Column("model", String(64), nullable=False),
    Column("prediction_id", String(128), nullable=False),
    Column("label", Text, nullable=False),
    Column("label_numeric", Float),
    Column("event_time", UTCDateTime(), nullable=False),
    Column("kafka_topic", String(255)),
    Column("kafka_partition", Integer),
    Column("kafka_offset", BigInteger),
    Column("ingested_at", UTCDateTime(), nullable=False),
    UniqueConstraint("model", "prediction_id"),
    Index(None, "model", "ingested_at"),
)

dead_letters = Table(
    "dead_letters",
    metadata,
    _id(),
    Column("topic", String(255), nullable=False),
    Column("partition", Integer, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("model", String(64), comment="the model named in the message, when one could be read"),
    Column("raw", LargeBinary, nullable=False),
    Column("raw_size", Integer, nullable=False, comment="size of the original message in bytes"),
    Column("reason", Text, nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    UniqueConstraint("topic", "partition", "offset"),
    Index(None, "received_at"),
)

reference_sets = Table(
    "reference_sets",
    metadata,
    _id(),
    Column("model", String(64), nullable=False),
    Column("model_version", String(64), nullable=False, comment="'*' when one baseline serves all versions"),
    Column("source", Text, nullable=False, comment="file path, window or first-N description"),
    Column("row_count", Integer, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("columns", LargeBinary, comment="the rows in the stored-row format (labels of copied predictions "
                                           "joined at read), written with the set"),
    UniqueConstraint("model", "model_version"),
)

reference_data = Table(
    "reference_data",
    metadata,
    _id(),
    Column("reference_set_id", BigInteger, ForeignKey("reference_sets.id", ondelete="CASCADE"), nullable=False),
    Column("row_index", Integer, nullable=False),
    Column("features", JSONType, nullable=False),
    Column("prediction", Text),
    Column("prediction_numeric", Float),
    Column("score", Float),
    Column("label", Text),
    Column("label_numeric", Float),
    Column("prediction_id", String(128), comment="the stored prediction this row was copied from"),
    UniqueConstraint("reference_set_id", "row_index"),
)

# What performance estimation and multivariate drift learned from a reference set, fitted
# once and read by every window (see monitor.jobs.estimation). Derived data: a row whose
# libraries or reference rows differ from the present ones is refitted and replaced.
reference_models = Table(
    "reference_models",
    metadata,
    _id(),
    Column("reference_set_id", BigInteger, ForeignKey("reference_sets.id", ondelete="CASCADE"), nullable=False),
    Column("config_key", String(64), nullable=False, comment="hash of the settings fitted with (task, metrics, ...)"),
    Column("fingerprint", String(128), nullable=False, comment="the reference rows fitted on: rows, labels, scores"),
    Column("library_versions", JSONType, nullable=False, comment="python, numpy, scikit-learn, ... that fitted it"),
    Column("chunk_size", Integer, nullable=False, comment="reference chunk size the thresholds were learned on"),
    Column("thresholds", JSONType, nullable=False, comment="learned thresholds per metric: [lower, upper]"),
    Column("fitted", LargeBinary, nullable=False, comment="pickled fitted estimators (calibrator, scaler, PCA, ...)"),
    Column("fitted_at", UTCDateTime(), nullable=False),
    UniqueConstraint("reference_set_id", "config_key"),
)

metric_values = Table(
    "metric_values",
    metadata,
    _id(),
    Column("model", String(64), nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("window_start", UTCDateTime(), nullable=False),
    Column("window_end", UTCDateTime(), nullable=False),
    Column("metric", String(64), nullable=False),
    Column("feature", String(255), comment="feature (or class, for class_share); NULL for model-level metrics"),
    Column("value", Float, comment="NULL when not computable; details.reason says why"),
    Column("threshold", Float),
    Column("is_breach", Boolean),
    Column("is_partial", Boolean, nullable=False, server_default=false(), comment="window not yet complete"),
    Column("details", JSONType),
    Column("computed_at", UTCDateTime(), nullable=False),
    Column("segment", String(255), comment="segment, e.g. country=DE; NULL for the whole model"),
    Column("compare", String(80),
           comment="'champion=<version>' on a row comparing model_version (the challenger) with the champion; "
                   "NULL for a row about one version alone"),
    Index(None, "model", "metric", "window_start"),
)
# NULL features (segments, comparisons) must collide too, so the unique key uses COALESCE (works on both backends).
Index(
    "uq_metric_values_point",
    metric_values.c.model,
    metric_values.c.model_version,
    metric_values.c.window_start,
    metric_values.c.window_end,
    metric_values.c.metric,
    func.coalesce(metric_values.c.feature, ""),
    func.coalesce(metric_values.c.segment, ""),
    func.coalesce(metric_values.c["compare"], ""),
    unique=True,
)

window_state = Table(
    "window_state",
    metadata,
    _id(),
    Column("model", String(64), nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("window_start", UTCDateTime(), nullable=False),
    Column("window_end", UTCDateTime(), nullable=False),
    Column("computed_at", UTCDateTime(), comment="last successful computation"),
    Column("data_watermark", UTCDateTime(), comment="newest ingested_at of the data it saw"),
    Column("is_partial", Boolean, nullable=False, server_default=false()),
    Column("claimed_by", String(128), comment="scheduler currently computing it"),
    Column("claimed_until", UTCDateTime()),
    Column("claimed_at", UTCDateTime(), comment="when claimed_by claimed it (claimed_until: lease, renewed)"),
    Column("claimed_process", String(128), comment="the claiming process: pid namespace, pid, start time"),
    UniqueConstraint("model", "model_version", "window_start"),
)

alerts = Table(
    "alerts",
    metadata,
    _id(),
    Column("rule", String(255), nullable=False),
    Column("model", String(64), nullable=False),
    Column("model_version", String(64)),
    Column("feature", String(255)),
    Column("metric", String(64), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("condition", String(128), nullable=False),
    Column("consecutive", Integer, nullable=False, server_default="0"),
    Column("started_at", UTCDateTime(), nullable=False, comment="first breach (event time of its window)"),
    Column("fired_at", UTCDateTime()),
    Column("resolved_at", UTCDateTime()),
    Column("last_value", Float),
    Column("last_window_start", UTCDateTime()),
    Column("last_window_end", UTCDateTime()),
    Column("last_notified_at", UTCDateTime()),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("segment", String(255), comment="segment the alert is about, e.g. country=DE; NULL: the whole model"),
    Column("compare", String(80),
           comment="'champion=<version>' when the alert compares model_version with the champion; NULL otherwise"),
    CheckConstraint("state IN ('pending', 'firing', 'resolved')", name="state"),
    Index(None, "rule", "model", "feature", "state"),
)

alert_evaluations = Table(
    "alert_evaluations",
    metadata,
    _id(),
    Column("rule", String(255), nullable=False),
    Column("model", String(64), nullable=False),
    Column("last_window_start", UTCDateTime(), comment="newest window this rule has evaluated for this model"),
    Column("last_window_end", UTCDateTime()),
    Column("evaluated_at", UTCDateTime(), nullable=False),
    Column("computed_through", UTCDateTime(), comment="newest window computation (computed_at) it has judged"),
    UniqueConstraint("rule", "model"),
)

notifications = Table(
    "notifications",
    metadata,
    _id(),
    Column("alert_id", BigInteger, ForeignKey("alerts.id", ondelete="CASCADE")),
    Column("channel", String(255), nullable=False),
    Column("event", String(16), nullable=False),
    Column("payload", JSONType, nullable=False),
    Column("idempotency_key", String(128), nullable=False),
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime()),
    Column("delivered_at", UTCDateTime()),
    Column("last_error", Text),
    Column("silenced_by", BigInteger),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("idempotency_key"),
    CheckConstraint("status IN ('pending', 'delivered', 'failed', 'silenced')", name="status"),
    Index(None, "status", "next_attempt_at"),
)

silences = Table(
    "silences",
    metadata,
    _id(),
    Column("rule", String(255), nullable=False),
    Column("model", String(64)),
    Column("feature", String(255)),
    Column("starts_at", UTCDateTime(), nullable=False),
    Column("ends_at", UTCDateTime(), nullable=False),
    Column("comment", Text, nullable=False),
    Column("created_by", String(255)),
    Column("created_at", UTCDateTime(), nullable=False),
)

job_runs = Table(
    "job_runs",
    metadata,
    _id(),
    Column("model", String(64), nullable=False),
    Column("model_version", String(64)),
    Column("window_start", UTCDateTime()),
    Column("window_end", UTCDateTime()),
    Column("trigger", String(32), nullable=False, comment="schedule, late-data, backfill, partial"),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime()),
    Column("status", String(16), nullable=False),
    Column("metrics_written", Integer),
    Column("error", Text),
    Column("worker", String(128)),
    Index(None, "model", "started_at"),
)

# The columnar copy of every stored prediction (see monitor.store.batches): one Arrow
# table per (model, version) of each ingested batch, written in the same transaction as
# its rows, merged into bigger ones later. Windows and baselines are read from these.
ARROW_BLOBS: tuple[tuple[str, str], ...] = (("prediction_batches", "data"), ("reference_sets", "columns"))
"""Columns holding Arrow streams: PostgreSQL stores them without pglz (``STORAGE EXTERNAL``;
its pass over every batch costs server CPU and gains little on numeric columns)."""

prediction_batches = Table(
    "prediction_batches",
    metadata,
    _id(),
    Column("model", String(64), nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("row_count", Integer, nullable=False),
    Column("min_event_time", UTCDateTime(), nullable=False),
    Column("max_event_time", UTCDateTime(), nullable=False),
    Column("max_ingested_at", UTCDateTime(), nullable=False),
    Column("data", LargeBinary, nullable=False, comment="Arrow IPC stream in the stored-row format"),
    Column("created_at", UTCDateTime(), nullable=False),
    Index(None, "model", "model_version", "max_event_time"),
)
