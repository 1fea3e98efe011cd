"""Drift results as the metric points the README names (``metric_values`` rows).

``feature_drift_score`` and ``feature_drift`` per feature, ``dataset_drift_share``
and ``dataset_drift`` per window. Details are strict JSON (NaN and infinities become
null there: PostgreSQL JSONB rejects them); a NaN value carries ``details["reason"]``
and ``details["not_judged"]`` (the same text): a feature or a dataset that could not
be judged is never reported as "no drift".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from monitor.metrics.drift.dataset import DatasetDriftResult
from monitor.metrics.drift.feature import FeatureDriftResult
from monitor.metrics.point import MetricPoint

__all__ = ["to_metric_points"]


def to_metric_points(result: DatasetDriftResult) -> list[MetricPoint]:
    """Two points per feature, then ``dataset_drift_share`` and ``dataset_drift``."""
    points: list[MetricPoint] = []
    for feature in result.features:
        points.extend(_feature_points(feature))
    not_judged = sorted(feature.feature for feature in result.not_judged)
    summary: dict[str, Any] = {
        "number_of_drifted": result.number_of_drifted,
        "number_of_features": result.number_of_features,
        "drift_share_threshold": result.drift_share_threshold,
        # Named here so an alert on the dataset metric can say which features to look at.
        "drifted_features": sorted(feature.feature for feature in result.features if feature.drifted),
        "not_judged_features": not_judged,
    }
    breach = result.dataset_drift  # None: not judged
    if result.dataset_drift is None:
        reason = (f"dataset drift not judged: {len(not_judged)} of {result.number_of_features} features could not "
                  f"be judged ({', '.join(not_judged[:10])}) and could tip the verdict")
        summary = {**summary, "reason": reason, "not_judged": reason}
        verdict = math.nan
    else:
        verdict = 1.0 if result.dataset_drift else 0.0
    points.append(
        MetricPoint(
            metric="dataset_drift_share",
            value=result.drift_share,
            threshold=result.drift_share_threshold,
            is_breach=breach,
            details=summary,
        )
    )
    points.append(
        MetricPoint(
            metric="dataset_drift",
            value=verdict,
            is_breach=breach,
            details=_json_ready({**summary, "drift_share": result.drift_share}),
        )
    )
    return points


def _learned_bounds(feature: FeatureDriftResult) -> dict[str, Any]:
    """A learned threshold as the bounds ``when: outside reference`` reads: a p-value drifts
    below it (lower), a distance above it (upper)."""
    learned = feature.details.get("learned")
    if feature.details.get("threshold_source") != "reference" or not isinstance(learned, dict) \
            or not math.isfinite(feature.threshold):
        return {}
    if learned.get("scale") == "-log10(p_value)":
        return {"lower_threshold": feature.threshold, "upper_threshold": None}
    return {"lower_threshold": None, "upper_threshold": feature.threshold}


def _feature_points(feature: FeatureDriftResult) -> list[MetricPoint]:
    details = _json_ready({**feature.details, "feature_type": feature.feature_type, **_learned_bounds(feature)})
    # Without a score we do not know whether the feature drifted: the 0/1 point is
    # NaN too, marked not judged with the same reason (never "no drift").
    reason = feature.not_judged_reason
    if reason is not None:
        details = {**details, "reason": reason, "not_judged": reason}
    verdict = math.nan if reason is not None else float(feature.drifted)
    return [
        MetricPoint(
            metric="feature_drift_score",
            value=feature.score,
            feature=feature.feature,
            threshold=feature.threshold,
            is_breach=None if reason is not None else feature.drifted,
            details=details,
        ),
        MetricPoint(
            metric="feature_drift",
            value=verdict,
            feature=feature.feature,
            is_breach=None if reason is not None else feature.drifted,
            details=details,
        ),
    ]


def _json_ready(details: Mapping[str, Any]) -> dict[str, Any]:
    # Strict JSON has no NaN or Infinity (a chi-square statistic is infinite when a
    # category is new): such numbers become null.
    return {
        key: None if isinstance(value, float) and not math.isfinite(value) else value for key, value in details.items()
    }
