"""The ``alerts`` section of ``driftwatch.yaml``: rules and the channels they notify.

A rule's cross-references (its model, metric, feature, segment and channels) are checked
against the whole configuration in :class:`monitor.config.models.DriftwatchConfig`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from monitor.config.base import StrictModel
from monitor.config.conditions import Condition, parse_condition
from monitor.config.durations import Duration, Offset
from monitor.config.problems import KeyedValueError, unknown_choice
from monitor.config.segments import parse_segment_selector
from monitor.metrics.names import (
    ALL_METRICS,
    COMPARE_METRICS,
    COMPARE_TESTED_METRICS,
    LEARNABLE_METRICS,
    METRIC_GROUPS,
)

__all__ = [
    "AlertRule",
    "AlertsConfig",
    "ChannelConfig",
    "EmailChannelConfig",
    "SlackChannelConfig",
    "WebhookChannelConfig",
]


class AlertRule(StrictModel):
    name: str
    model: str = "*"
    metric: str
    feature: str | None = None
    segment: str | None = None  # "country=DE": that segment; "country=*": each value; None: the whole model
    when: str
    for_: Annotated[int, Field(ge=1, alias="for")] = 1
    severity: Literal["info", "warning", "critical"] = "warning"
    channels: list[str] = Field(default_factory=list)
    # Judge a window only once it ended this long ago. For rules on label metrics
    # (accuracy, performance_drop, concept_drift, ...): labels arrive late, and the
    # window is recomputed as they do, so wait until most of them are in.
    delay: Offset = timedelta(0)
    # Comparison metrics only: breach only when the difference is also statistically
    # significant (its test's p-value below alpha).
    significant: bool = False
    alpha: Annotated[float, Field(gt=0, lt=1)] = 0.05

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        if value not in ALL_METRICS and value not in COMPARE_METRICS:
            raise ValueError(unknown_choice("metric", value, ALL_METRICS | COMPARE_METRICS))
        return value

    @field_validator("segment")
    @classmethod
    def _segment_shape(cls, value: str | None) -> str | None:
        if value is None:
            return None
        column, segment_value = parse_segment_selector(value)
        return f"{column}={segment_value}"

    @model_validator(mode="after")
    def _significance(self) -> AlertRule:
        if self.significant and self.metric not in COMPARE_TESTED_METRICS:
            raise KeyedValueError(("significant",), f"significant: true needs a comparison metric with a test "
                                                    f"({', '.join(sorted(COMPARE_TESTED_METRICS))}), "
                                                    f"not {self.metric!r}; remove significant or change the metric")
        return self

    @field_validator("when")
    @classmethod
    def _parse_when(cls, value: str) -> str:
        parse_condition(value)
        return value

    @model_validator(mode="after")
    def _learned_bounds(self) -> AlertRule:
        estimated = self.metric in METRIC_GROUPS["estimation"]
        if self.condition.op == "outside band" and not estimated:
            raise KeyedValueError(("when",), f"{self.condition.text!r} needs a metric with a sampling-error band "
                                             "(estimated_<metric>), "
                                             f"not {self.metric!r}; give a number, e.g. \"> 0.3\"")
        if self.condition.op == "outside reference" and not (
                estimated or self.metric in LEARNABLE_METRICS or self.metric == "feature_drift_score"):
            raise KeyedValueError(("when",), f"{self.condition.text!r} needs a metric that learns its thresholds "
                                             "from the reference (estimated_<metric>, multivariate_drift, "
                                             "feature_drift_score, or one of models.<name>.metrics: "
                                             f"{', '.join(LEARNABLE_METRICS)}), not {self.metric!r}; give a "
                                             "number, e.g. \"> 0.3\"")
        return self

    @property
    def condition(self) -> Condition:
        return parse_condition(self.when)


class SlackChannelConfig(StrictModel):
    type: Literal["slack"]
    webhook_url: SecretStr
    timeout: Duration = timedelta(seconds=10)


class EmailChannelConfig(StrictModel):
    type: Literal["email"]
    smtp_host: str
    smtp_port: int = 587
    starttls: bool = False
    ssl: bool = False
    username: str | None = None
    password: SecretStr | None = None
    sender: str
    to: Annotated[list[str], Field(min_length=1)]
    timeout: Duration = timedelta(seconds=10)


class WebhookChannelConfig(StrictModel):
    type: Literal["webhook"]
    url: str
    secret: SecretStr | None = None
    body_template: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: Duration = timedelta(seconds=10)


ChannelConfig = Annotated[
    SlackChannelConfig | EmailChannelConfig | WebhookChannelConfig, Field(discriminator="type")
]


class AlertsConfig(StrictModel):
    rules: list[AlertRule] = Field(default_factory=list)
    repeat_interval: Duration = timedelta(hours=4)
    send_resolved: bool = True
    channels: dict[str, ChannelConfig] = Field(default_factory=dict)
    max_delivery_time: Duration = timedelta(hours=24)
