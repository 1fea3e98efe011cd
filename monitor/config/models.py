"""The shape of ``driftwatch.yaml``: strict pydantic models with defaults.

Unknown keys are rejected everywhere; cross-references (rule → model, metric,
feature, channel) are checked in :class:`DriftwatchConfig`.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from monitor.config.alerting import (
    AlertRule,
    AlertsConfig,
    ChannelConfig,
    EmailChannelConfig,
    SlackChannelConfig,
    WebhookChannelConfig,
)
from monitor.config.base import StrictModel
from monitor.config.durations import Duration
from monitor.config.problems import KeyedValueError, did_you_mean, unknown_choice
from monitor.config.segments import SegmentsConfig, parse_segment_selector
from monitor.metrics.names import (
    COMPARE_FEATURE_METRICS,
    CONFUSION_CELL_METRIC,
    ESTIMATED_METRICS,
    FEATURE_METRICS,
    LEARNABLE_METRICS,
    METRIC_GROUPS,
)

__all__ = [
    "StrictModel",
    "KafkaConfig",
    "IngestConfig",
    "ScheduleConfig",
    "FeatureConfig",
    "ReferenceConfig",
    "DriftConfig",
    "EstimationConfig",
    "ModelConfig",
    "AlertRule",
    "SlackChannelConfig",
    "EmailChannelConfig",
    "WebhookChannelConfig",
    "ChannelConfig",
    "AlertsConfig",
    "DashboardConfig",
    "PrometheusConfig",
    "DriftwatchConfig",
    "MODEL_NAME_PATTERN",
]

MODEL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
DRIFT_METHODS = frozenset(
    {
        "auto", "ks", "chisquare", "z", "psi", "wasserstein", "jensenshannon", "kl_div", "hellinger",
        "anderson", "cramer_von_mises", "mannw", "t_test", "energy_distance", "empirical_mmd", "TVD",
        "fisher_exact", "g_test", "epps_singleton",
    }
)


class KafkaConfig(StrictModel):
    bootstrap_servers: str = "127.0.0.1:9092"
    predictions_topic: str = "predictions"
    labels_topic: str = "labels"
    group_id: str = "driftwatch"
    client_id: str = "driftwatch"
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    # How soon the group notices a dead member (and hands its partitions over).
    session_timeout: Duration = timedelta(seconds=10)
    # Static membership: a restarted process with the same id takes its partitions
    # back at once, without a rebalance (set one distinct id per ingest process).
    group_instance_id: str | None = None


class IngestConfig(StrictModel):
    batch_size: Annotated[int, Field(ge=1, le=1_000_000)] = 5000
    batch_max_wait: Duration = timedelta(seconds=1)
    max_message_bytes: Annotated[int, Field(ge=1024)] = 1_048_576
    reject_unknown_models: bool = True
    # Consumer processes in the group (one core each); at most one per partition is busy.
    workers: Annotated[int, Field(ge=1, le=64)] = 1
    # Event times accepted around the clock; others are dead-lettered, their windows never listed.
    max_event_age: Duration = timedelta(days=365)
    max_event_lead: Duration = timedelta(days=1)


class ScheduleConfig(StrictModel):
    interval: Duration = timedelta(minutes=1)
    lease: Duration = timedelta(seconds=60)  # a window claim; renewed every lease/3 while it computes

    @field_validator("lease")
    @classmethod
    def _lease(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=3):
            raise ValueError(f"lease {value} is too short for its heartbeat (every lease/3); use at least 3s, e.g. 60s")
        return value


class FeatureConfig(StrictModel):
    type: Literal["numeric", "categorical"]
    min: float | None = None
    max: float | None = None
    values: list[str | int | float | bool] | None = None

    @model_validator(mode="after")
    def _check(self) -> FeatureConfig:
        if self.type == "categorical" and (self.min is not None or self.max is not None):
            raise KeyedValueError(("min" if self.min is not None else "max",),
                                  "min/max apply to numeric features only; remove them or set type: numeric")
        if self.type == "numeric" and self.values is not None:
            raise KeyedValueError(("values",),
                                  "values apply to categorical features only; remove it or set type: categorical")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise KeyedValueError(("max",), f"min ({self.min}) is greater than max ({self.max})")
        return self


class ReferenceWindow(StrictModel):
    start: datetime
    end: datetime

    @model_validator(mode="after")
    def _check(self) -> ReferenceWindow:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("reference window start and end need a time zone, e.g. 2026-01-01T00:00Z")
        if self.end <= self.start:
            raise ValueError("reference window end must be after start")
        return self


class ReferenceConfig(StrictModel):
    file: str | None = None
    window: ReferenceWindow | None = None
    first: Annotated[int, Field(ge=10)] | None = None
    # A file's per-class probability columns (multiclass estimation): {class: column}.
    probabilities: dict[str, str] | None = None

    @field_validator("probabilities", mode="before")
    @classmethod
    def _class_names(cls, value: Any) -> Any:
        """Classes as the store writes them: ``{0: p0}`` names class ``"0"``, ``{1.0: p1}`` class ``"1"``."""
        if not isinstance(value, dict):
            return value
        return {str(int(key)) if isinstance(key, float) and key.is_integer() else str(key): column
                for key, column in value.items()}

    @model_validator(mode="after")
    def _exactly_one(self) -> ReferenceConfig:
        chosen = [name for name in ("file", "window", "first") if getattr(self, name) is not None]
        if len(chosen) != 1:
            raise ValueError("set exactly one of reference.file, reference.window or reference.first")
        if self.probabilities is not None and self.file is None:
            raise ValueError("reference.probabilities names a file's columns; baselines taken from stored "
                             "predictions keep each prediction's probabilities, so leave it out")
        if self.probabilities is not None and len(self.probabilities) < 2:
            raise ValueError("reference.probabilities maps every class to its column, e.g. "
                             "{cat: p_cat, dog: p_dog, bird: p_bird}; name at least two classes")
        return self


class FeatureDriftOverride(StrictModel):
    method: str = "auto"
    # A number, or "reference": learned from chunks of the reference (monitor.metrics.drift.learned).
    threshold: float | str | None = None

    @field_validator("method")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in DRIFT_METHODS:
            raise ValueError(unknown_choice("drift method", value, DRIFT_METHODS))
        return value

    @field_validator("threshold")
    @classmethod
    def _number_or_reference(cls, value: float | str | None) -> float | str | None:
        if isinstance(value, str) and value != "reference":
            try:
                value = float(value)
            except ValueError:
                raise ValueError(f"threshold must be a number or 'reference' (learned from the reference), "
                                 f"got {value!r}{did_you_mean(value, ['reference'])}") from None
        if isinstance(value, float) and (not math.isfinite(value) or value < 0):
            raise ValueError(f"threshold must be a finite number >= 0 or 'reference', got {value}")
        return value


class DriftConfig(FeatureDriftOverride):
    per_feature: dict[str, FeatureDriftOverride] = Field(default_factory=dict)
    drift_share: Annotated[float, Field(gt=0, le=1)] = 0.5
    # k of a threshold learned from the reference: drift beyond mean + k std of the chunks' scores.
    threshold_std: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 3.0


class EstimationConfig(StrictModel):
    """Performance estimated without labels (CBPE, DLE) and multivariate drift, fitted once per reference."""

    enabled: bool | None = None  # None: estimate when the reference has labels and scores
    metrics: list[str] | None = None  # None: every metric of the task
    multivariate: Literal["pca", "classifier", "off"] = "pca"
    threshold_std: Annotated[float, Field(gt=0)] = 3.0
    chunk_size: Annotated[int, Field(ge=10)] | None = None  # None: a tenth of the reference


class LearnedMetricConfig(StrictModel):
    """``threshold: reference``: the metric's alert thresholds learned from reference chunks
    of the window's size (mean ± ``threshold_std`` std; see monitor.jobs.learned_metrics)."""

    threshold: str
    threshold_std: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 3.0

    @field_validator("threshold", mode="before")
    @classmethod
    def _reference_only(cls, value: Any) -> str:
        if value != "reference":
            raise ValueError(f"threshold must be 'reference' (learned from the reference), got {value!r}; a fixed "
                             "number belongs in an alert rule's when (e.g. \"> 0.05\")")
        return "reference"


class ModelConfig(StrictModel):
    task: Literal["binary_classification", "multiclass_classification", "regression"]
    positive_label: str | int | float | bool | None = None
    window: Duration = timedelta(hours=1)
    features: dict[str, FeatureConfig] = Field(default_factory=dict)
    reference: ReferenceConfig | None = None
    drift: DriftConfig = Field(default_factory=DriftConfig)
    estimation: EstimationConfig = Field(default_factory=EstimationConfig)
    # Metrics whose thresholds are learned from the reference: {error_rate: {threshold: reference}}.
    metrics: dict[str, LearnedMetricConfig] = Field(default_factory=dict)
    segments: SegmentsConfig | None = None  # vitals also per value of these feature columns
    # The version challengers are compared with when two serve in one window;
    # None: the one whose first prediction is the earliest.
    champion: str | None = None

    @field_validator("champion", mode="before")
    @classmethod
    def _champion_text(cls, value: object) -> object:
        if value is not None and not isinstance(value, str):
            raise ValueError(f"champion must be a model_version as a quoted string, got {value!r} "
                             f"({type(value).__name__}); write it in quotes, e.g. champion: \"{value}\"")
        if isinstance(value, str) and not 1 <= len(value.strip()) <= 64:
            raise ValueError("champion must name a model_version of 1 to 64 characters; "
                             "remove the key to use the oldest version")
        return value

    @field_validator("window")
    @classmethod
    def _aligned(cls, value: timedelta) -> timedelta:
        if timedelta(days=1) % value != timedelta() and value % timedelta(days=1) != timedelta():
            raise ValueError("window must divide a day (e.g. 5m, 15m, 1h, 6h) or be whole days, "
                             "so windows stay aligned to UTC")
        return value

    @model_validator(mode="after")
    def _check(self) -> ModelConfig:
        if self.task == "binary_classification" and self.positive_label is None:
            raise KeyedValueError(("task",), "binary_classification needs positive_label "
                                             "(the class that counts as positive); add it")
        # confusion_matrix: every cell (binary: the four; multiclass: confusion_cell), as `driftwatch estimate`
        allowed = (*ESTIMATED_METRICS[self.task], *(("confusion_matrix",) if self.task != "regression" else ()))
        for name in self.estimation.metrics or ():
            if name not in allowed:
                raise KeyedValueError(("estimation", "metrics"), unknown_choice(f"{self.task} estimated metric",
                                                                                name, allowed))
        for name in self.metrics:
            if name not in LEARNABLE_METRICS:
                raise KeyedValueError(("metrics", name), unknown_choice(
                    "metric whose threshold can be learned from the reference", name, LEARNABLE_METRICS)
                    + " (drift scores: drift.threshold; estimated metrics: estimation)")
        unknown = sorted(set(self.drift.per_feature) - set(self.features))
        if unknown and self.features:
            raise KeyedValueError(("drift", "per_feature", unknown[0]),
                                  f"drift.per_feature names unknown feature {unknown[0]!r}"
                                  f"{did_you_mean(unknown[0], self.features)}; known: {sorted(self.features)}")
        for position, column in enumerate(self.segments.columns if self.segments else ()):
            if self.features and column not in self.features:
                raise KeyedValueError(("segments", "columns", position),
                                      f"segment column {column!r} is not a feature of this model"
                                      f"{did_you_mean(column, self.features)}; declare it under features "
                                      f"(known: {sorted(self.features)})")
        return self


class DashboardConfig(StrictModel):
    base_url: str = "http://127.0.0.1:8501"
    auto_refresh: Duration = timedelta(seconds=30)  # the model page's auto-refresh interval
    query_ttl: Duration = timedelta(seconds=15)  # how long a query result is reused


class PrometheusConfig(StrictModel):
    port: Annotated[int, Field(ge=1, le=65535)] | None = None  # /metrics off unless set
    host: str = "127.0.0.1"
    cache_ttl: Duration = timedelta(seconds=5)  # how long a scrape's store queries are reused
    max_features: Annotated[int, Field(ge=1, le=10_000)] = 200  # per model and metric: the label cardinality bound
    consumer_lag: bool = True  # ask Kafka for the consumer group's lag per partition


class DriftwatchConfig(StrictModel):
    store: str = "sqlite:///driftwatch.db"
    kafka: KafkaConfig = Field(default_factory=KafkaConfig)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    models: dict[str, ModelConfig] = Field(default_factory=dict)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    dashboard: DashboardConfig = Field(default_factory=DashboardConfig)
    prometheus: PrometheusConfig = Field(default_factory=PrometheusConfig)

    @field_validator("models")
    @classmethod
    def _model_names(cls, value: dict[str, ModelConfig]) -> dict[str, ModelConfig]:
        for name in value:
            if not MODEL_NAME_PATTERN.match(name):
                raise ValueError(f"model name {name!r} must match [A-Za-z0-9_.-]{{1,64}}")
        return value

    @model_validator(mode="after")
    def _check_rule_references(self) -> DriftwatchConfig:
        names = set()
        for index, rule in enumerate(self.alerts.rules):
            at = ("alerts", "rules", index)
            if rule.name in names:
                raise KeyedValueError((*at, "name"), f"alerts.rules: two rules are named {rule.name!r}; "
                                                     "rule names must be unique")
            names.add(rule.name)
            if rule.model != "*" and rule.model not in self.models:
                raise KeyedValueError((*at, "model"), f"alerts.rules[{rule.name}].model: no model {rule.model!r} "
                                      f"under models{did_you_mean(rule.model, self.models)} "
                                      f"(known: {sorted(self.models)}); fix the name or use '*'")
            for position, channel in enumerate(rule.channels):
                if channel not in self.alerts.channels:
                    raise KeyedValueError((*at, "channels", position),
                                          f"alerts.rules[{rule.name}].channels: no channel {channel!r} under "
                                          f"alerts.channels{did_you_mean(channel, self.alerts.channels)} "
                                          f"(known: {sorted(self.alerts.channels)})")
            if rule.condition.op == "outside reference":
                self._check_learned_rule(rule, at)
            if rule.segment is not None:
                self._check_rule_segment(at, rule)
            if rule.feature is not None and rule.metric not in FEATURE_METRICS | COMPARE_FEATURE_METRICS:
                raise KeyedValueError((*at, "feature"), f"alerts.rules[{rule.name}].feature: metric {rule.metric!r} "
                                      "has no features; remove feature or pick a per-feature metric")
            if rule.metric == CONFUSION_CELL_METRIC and rule.feature is None:
                raise KeyedValueError((*at, "feature"), f"alerts.rules[{rule.name}]: {CONFUSION_CELL_METRIC} has a "
                                      "row per cell of a multiclass confusion matrix; set feature to '*' (every "
                                      "cell) or one cell, e.g. 'true=cat,pred=dog'")
            if rule.feature not in (None, "*") and rule.metric not in ("class_share", CONFUSION_CELL_METRIC):
                try:
                    self._check_rule_feature(rule.name, rule.model, rule.feature)
                except ValueError as exc:
                    raise KeyedValueError((*at, "feature"), str(exc)) from None
        return self

    def _check_learned_rule(self, rule: AlertRule, at: tuple[str | int, ...]) -> None:
        """``outside reference`` on a metric learned only when the model asks for it: some
        model the rule watches must (else the rule could never fire)."""
        if rule.metric in METRIC_GROUPS["estimation"]:
            return
        models = self.models if rule.model == "*" else {rule.model: self.models[rule.model]}
        if rule.metric == "feature_drift_score":
            if not any(config.drift.threshold == "reference"
                       or any(o.threshold == "reference" for o in config.drift.per_feature.values())
                       for config in models.values()):
                raise KeyedValueError((*at, "when"), f"alerts.rules[{rule.name}]: 'outside reference' on "
                                      "feature_drift_score needs drift.threshold: reference (or a per_feature "
                                      f"threshold: reference) in model {rule.model!r}; set it or give a number")
            return
        if not any(rule.metric in config.metrics for config in models.values()):
            name = rule.model if rule.model != "*" else "<name>"
            raise KeyedValueError((*at, "when"), f"alerts.rules[{rule.name}]: 'outside reference' on {rule.metric} "
                                  f"needs models.{name}.metrics.{rule.metric}.threshold: reference (thresholds "
                                  "learned from the reference); set it or give a number")

    def _check_rule_segment(self, at: tuple[str | int, ...], rule: AlertRule) -> None:
        """A rule's segment column must be segmented by its model (by some model, for model '*')."""
        column = parse_segment_selector(rule.segment or "")[0]
        models = self.models if rule.model == "*" else {rule.model: self.models[rule.model]}
        columns = sorted({name for config in models.values() for name in (config.segments.columns
                                                                              if config.segments else ())})
        if column not in columns:
            where = "no model" if rule.model == "*" else f"model {rule.model!r}"
            raise KeyedValueError((*at, "segment"), f"alerts.rules[{rule.name}].segment: {where} is segmented by "
                                  f"{column!r}{did_you_mean(column, columns)}; add it to models.<model>.segments "
                                  f"or fix the column (segmented by: {columns or 'nothing'})")

    def _check_rule_feature(self, rule: str, model: str, feature: str) -> None:
        """A rule's feature must exist where it can be known at load time: in the model's
        declared features (a model that declares none takes them from its reference, so
        only the windows can tell)."""
        if model != "*":
            features = self.models[model].features
            if features and feature not in features:
                raise ValueError(f"alerts.rules[{rule}].feature: model {model!r} has no feature {feature!r}"
                                 f"{did_you_mean(feature, features)} (known: {sorted(features)})")
            return
        declared = [config.features for config in self.models.values()]
        if declared and all(declared) and not any(feature in features for features in declared):
            known = sorted({name for features in declared for name in features})
            raise ValueError(f"alerts.rules[{rule}].feature: no model has a feature {feature!r}"
                             f"{did_you_mean(feature, known)} (known: {known}); fix the name or use '*'")

    def model(self, name: str) -> ModelConfig:
        try:
            return self.models[name]
        except KeyError:
            from monitor.errors import ConfigError

            raise ConfigError(f"no model {name!r} in the config{did_you_mean(name, self.models)} "
                              f"(known: {sorted(self.models)})") from None
