"""The Versions page's reads and words: a challenger side by side with the champion.

The reads follow :mod:`dashboard.queries` (model and metric first, cached for a few
seconds); the rest is pure: :func:`side_by_side` turns a window's ``compare_*`` rows
into one line per vital, and :func:`in_words` says what a difference and its p-value mean.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy import select

from dashboard.settings import QUERY_TTL
from dashboard.store import read_frame
from monitor.metrics.names import COMPARE_METRICS, ESTIMATED_METRICS
from monitor.store.tables import metric_values

__all__ = ["REALIZED_OF", "Vital", "VITALS", "comparison_history", "estimate_in_words", "comparison_points",
           "comparisons", "drift_rows", "in_words",
           "side_by_side"]

MV = metric_values
_ANCHOR = "compare_error_rate_diff"  # written for every compared window
_cached = st.cache_data(ttl=QUERY_TTL, show_spinner=False)


@dataclass(frozen=True, slots=True)
class Vital:
    """How one compared vital reads: its label, unit (``share``, ``ms`` or ``number``),
    whether a higher value is better and whether it is realized performance (from labels)."""

    label: str
    unit: str
    higher_is_better: bool
    realized: bool = False


_LOWER_IS_BETTER = {"mae", "mse", "rmse", "mape"}
_NAMES = {"roc_auc": "ROC AUC", "f1": "F1", "mae": "MAE", "mse": "MSE", "rmse": "RMSE", "mape": "MAPE"}
VITALS: dict[str, Vital] = {
    "compare_error_rate_diff": Vital("Error rate", "share", False),
    "compare_latency_p50_diff_ms": Vital("Latency p50", "ms", False),
    "compare_latency_p95_diff_ms": Vital("Latency p95", "ms", False),
    "compare_accuracy_diff": Vital("Accuracy", "share", True, realized=True),
    "compare_roc_auc_diff": Vital("ROC AUC", "number", True, realized=True),
    "compare_mae_diff": Vital("MAE", "number", False, realized=True),
    # Estimated accuracy reads as its realized counterpart does (a share, in pp), so the two compare at a glance.
    **{f"compare_estimated_{name}_diff": Vital(f"Estimated {_NAMES.get(name, name)}",
                                               "share" if name == "accuracy" else "number",
                                               name not in _LOWER_IS_BETTER)
       for name in dict.fromkeys(n for names in ESTIMATED_METRICS.values() for n in names)
       if f"compare_estimated_{name}_diff" in COMPARE_METRICS},
}
# The realized comparison an estimate is checked against, where one is computed.
REALIZED_OF = {f"compare_estimated_{name}_diff": f"compare_{name}_diff" for name in ("accuracy", "roc_auc", "mae")}


def _time(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    for column in columns:
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    return frame


@_cached
def comparisons(url: str) -> pd.DataFrame:
    """Every compared (model, challenger, window): its ``compare`` label and whether it is partial."""
    statement = (
        select(MV.c.model, MV.c.model_version, MV.c["compare"], MV.c.window_start, MV.c.window_end, MV.c.is_partial)
        .where(MV.c.metric == _ANCHOR, MV.c["compare"].is_not(None))
        .order_by(MV.c.model, MV.c.model_version, MV.c.window_start)
    )
    return _time(read_frame(url, statement), "window_start", "window_end")


@_cached
def comparison_points(url: str, model: str, version: str, window_start: datetime) -> pd.DataFrame:
    """The challenger's ``compare_*`` rows of one window, with their details."""
    statement = select(MV.c.metric, MV.c.feature, MV.c.value, MV.c.threshold, MV.c.is_breach, MV.c.details).where(
        MV.c.model == model, MV.c.metric.in_(sorted(COMPARE_METRICS)), MV.c.window_start == window_start,
        MV.c.model_version == version, MV.c["compare"].is_not(None))
    return read_frame(url, statement)


@_cached
def comparison_history(url: str, model: str, version: str) -> pd.DataFrame:
    """The challenger's error rate and accuracy differences in every complete compared window."""
    metrics = ["compare_error_rate_diff", "compare_accuracy_diff"]
    statement = select(MV.c.window_start, MV.c.metric, MV.c.value).where(
        MV.c.model == model, MV.c.metric.in_(metrics), MV.c.model_version == version, MV.c["compare"].is_not(None),
        MV.c.is_partial.is_(False))
    return _time(read_frame(url, statement), "window_start")


def _number(value: object) -> float:
    return math.nan if value is None or (isinstance(value, float) and math.isnan(value)) else float(str(value))


def format_amount(unit: str, value: float, *, signed: bool = False) -> str:
    """``12.5%`` / ``+3.1 pp`` for shares, ``84 ms`` for latency, 4 significant digits otherwise.

    >>> format_amount("share", 0.125), format_amount("share", -0.031, signed=True), format_amount("ms", 84.04)
    ('12.50%', '−3.10\xa0pp', '84.0\xa0ms')
    """
    if math.isnan(value):
        return "—"
    # A real minus sign and a no-break space: a narrow table cell never breaks "−46.00 pp".
    sign = "+" if signed and value > 0 else "−" if value < 0 else ""
    size = abs(value)
    if unit == "share":
        return f"{sign}{size * 100:.2f}\u00a0pp" if signed else f"{sign}{size * 100:.2f}%"
    if unit == "ms":
        return f"{sign}{size:.1f}\u00a0ms"
    return f"{sign}{size:.4g}"


def format_p_value(p_value: float) -> str:
    """A p-value for people: two significant digits, tiny ones as ``< 0.0001``.

    >>> format_p_value(0.0312), format_p_value(3.6e-13), format_p_value(float("nan"))
    ('0.031', '<\u00a00.0001', '—')
    """
    if math.isnan(p_value):
        return "—"
    return "<\u00a00.0001" if p_value < 0.0001 else f"{p_value:.2g}"


def _phrase(label: str) -> str:
    """A label inside a sentence: ``Error rate`` → ``error rate``, ``ROC AUC`` stays."""
    return label if label[:2].isupper() else label[:1].lower() + label[1:]


def labels_of(details: Mapping[str, Any]) -> int | None:
    """Labelled predictions a realized comparison rests on (both versions), None if unknown.

    >>> labels_of({"n_champion": 120, "n_challenger": 30}), labels_of({})
    (150, None)
    """
    counts = [details.get("n_champion"), details.get("n_challenger")]
    if not all(isinstance(n, int | float) and not math.isnan(n) for n in counts):
        return None
    return int(sum(counts))  # type: ignore[arg-type]


def realized_prefix(details: Mapping[str, Any]) -> str:
    """>>> realized_prefix({"n_champion": 120, "n_challenger": 30}), realized_prefix({})
    ('Realized (from 150 labels): ', 'Realized (from labels): ')
    """
    count = labels_of(details)
    return f"Realized (from {count:,} labels): " if count is not None else "Realized (from labels): "


def in_words(vital: Vital, details: Mapping[str, Any], difference: float, challenger: str) -> str:
    """What the difference means, with its p-value, for a person; realized performance says
    how many labels it rests on.

    >>> error = VITALS["compare_error_rate_diff"]
    >>> in_words(error, {"p_value": 0.0004, "alpha": 0.05}, 0.081, "v2")
    'v2 is worse: error rate higher by 8.10\xa0pp. Significant: p = 0.0004, below 0.05 — unlikely to be chance.'
    >>> in_words(error, {"p_value": 0.41, "alpha": 0.05}, 0.004, "v2")
    'No significant difference: p = 0.41, not below 0.05 — a gap of +0.40\xa0pp could be chance.'
    >>> in_words(VITALS["compare_accuracy_diff"], {"p_value": 0.01, "n_champion": 80, "n_challenger": 20}, 0.1, "v2")
    'Realized (from 100 labels): v2 is better: accuracy higher by 10.00\xa0pp. Significant: p = 0.01, below 0.05 — \
unlikely to be chance.'
    """
    if vital.realized:
        return realized_prefix(details) + _tested_words(vital, details, difference, challenger)
    if "p_value" not in details and details.get("test") is None:
        return estimate_in_words(vital, difference, challenger)
    return _tested_words(vital, details, difference, challenger)


def _direction(vital: Vital, difference: float, challenger: str) -> str:
    """>>> _direction(VITALS["compare_estimated_f1_diff"], -0.0312, "v2")
    'v2 lower by 0.0312 (worse)'
    """
    better = (difference > 0) == vital.higher_is_better
    amount = format_amount(vital.unit, abs(difference), signed=True).lstrip("+")
    return f"{challenger} {'higher' if difference > 0 else 'lower'} by {amount} ({'better' if better else 'worse'})"


def estimate_in_words(vital: Vital, difference: float, challenger: str, realized: tuple[Vital, Mapping[str, Any],
                                                                                      float] | None = None) -> str:
    """An estimated difference (before labels) beside the realized one (from labels) where
    one is computed: both stated, each labelled, and which to trust when they disagree.

    >>> estimated, realized = VITALS["compare_estimated_accuracy_diff"], VITALS["compare_accuracy_diff"]
    >>> estimate_in_words(VITALS["compare_estimated_f1_diff"], -0.03, "v2")
    'Estimated (before labels): v2 lower by 0.03 (worse); an estimate has no significance test.'
    >>> estimate_in_words(estimated, -0.03, "v2", (realized, {"p_value": 0.2, "n_champion": 40, "n_challenger": 10},
    ...                                           0.05))  # doctest: +NORMALIZE_WHITESPACE
    'Estimated (before labels): v2 lower by 3.00\xa0pp (worse).
     Realized (from 50 labels): v2 higher by 5.00\xa0pp (better), not significant yet (p\xa0=\xa00.2).
     They disagree: the realized value wins once enough labels have arrived
     (a significant realized difference); until then neither settles it.'
    >>> estimate_in_words(estimated, -0.03, "v2", (realized, {"p_value": 0.001, "n_champion": 400, "n_challenger": 100},
    ...                                           0.05))  # doctest: +NORMALIZE_WHITESPACE
    'Estimated (before labels): v2 lower by 3.00\xa0pp (worse).
     Realized (from 500 labels): v2 higher by 5.00\xa0pp (better), significant (p\xa0=\xa00.001).
     They disagree: trust the realized value — enough labels have arrived.'
    >>> estimate_in_words(estimated, 0.01, "v2", (realized, {"reason": "a version has no labelled predictions yet"},
    ...                                          float("nan")))  # doctest: +NORMALIZE_WHITESPACE
    'Estimated (before labels): v2 higher by 1.00\xa0pp (better).
     Realized: not yet — a version has no labelled predictions yet.'
    """
    if math.isnan(difference):
        estimate = "Estimated (before labels): not compared"
    elif difference == 0:
        estimate = "Estimated (before labels): equal"
    else:
        estimate = f"Estimated (before labels): {_direction(vital, difference, challenger)}"
    if realized is None:
        return f"{estimate}; an estimate has no significance test."
    real_vital, details, real_difference = realized
    p_value = _number(details.get("p_value"))
    if math.isnan(real_difference) or math.isnan(p_value):
        return f"{estimate}. Realized: not yet — {details.get('reason') or 'not enough labels'}."
    alpha = _number(details.get("alpha", 0.05))
    significant = p_value < alpha
    # No-break spaces: a narrow table cell never breaks "p < 0.0001" from its number.
    shown = "p\u00a0<\u00a00.0001" if p_value < 0.0001 else f"p\u00a0=\u00a0{p_value:.2g}"
    real = ("equal" if real_difference == 0 else _direction(real_vital, real_difference, challenger)) + \
        (f", significant ({shown})" if significant else f", not significant yet ({shown})")
    text = f"{estimate}. {realized_prefix(details)}{real}."
    disagree = not math.isnan(difference) and (difference > 0) != (real_difference > 0) \
        and difference != 0 and real_difference != 0
    if disagree:
        text += (" They disagree: trust the realized value — enough labels have arrived." if significant else
                 " They disagree: the realized value wins once enough labels have arrived (a significant realized "
                 "difference); until then neither settles it.")
    return text


def _tested_words(vital: Vital, details: Mapping[str, Any], difference: float, challenger: str) -> str:
    if math.isnan(difference):
        return f"Not compared: {details.get('reason') or 'no value'}."
    p_value = _number(details.get("p_value"))
    alpha = _number(details.get("alpha", 0.05))
    if math.isnan(p_value):
        return f"Not tested: {details.get('reason') or 'not enough data'}."
    if p_value >= alpha or difference == 0:
        return (f"No significant difference: p = {p_value:.2g}, not below {alpha:g} — a gap of "
                f"{format_amount(vital.unit, difference, signed=True)} could be chance.")
    better = (difference > 0) == vital.higher_is_better
    direction = "higher" if difference > 0 else "lower"
    amount = format_amount(vital.unit, abs(difference), signed=True).lstrip("+")
    shown = "p < 0.0001" if p_value < 0.0001 else f"p = {p_value:.2g}"
    return (f"{challenger} is {'better' if better else 'worse'}: {_phrase(vital.label)} {direction} by {amount}. "
            f"Significant: {shown}, below {alpha:g} — unlikely to be chance.")


def _details(value: object) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def side_by_side(points: pd.DataFrame, challenger: str) -> pd.DataFrame:
    """One row per compared vital present: champion, challenger, difference, p-value, in words."""
    rows = []
    model_level = points[points["feature"].isna()]
    for metric, vital in VITALS.items():
        found = model_level[model_level["metric"] == metric]
        if found.empty:
            continue
        row = found.iloc[0]
        details = _details(row["details"])
        difference = _number(row["value"])
        p_value = _number(details.get("p_value"))
        if metric.startswith("compare_estimated_"):
            realized = model_level[model_level["metric"] == REALIZED_OF.get(metric, "")]
            words = estimate_in_words(vital, difference, challenger, None if realized.empty else (
                VITALS[REALIZED_OF[metric]], _details(realized["details"].iloc[0]),
                _number(realized["value"].iloc[0])))
        else:
            words = in_words(vital, details, difference, challenger)
        rows.append({
            "Vital": vital.label,
            "Champion": format_amount(vital.unit, _number(details.get("champion_value"))),
            "Challenger": format_amount(vital.unit, _number(details.get("challenger_value"))),
            "Difference": format_amount(vital.unit, difference, signed=True),
            "p-value": format_p_value(p_value),
            "In words": words,
        })
    return pd.DataFrame(rows, columns=["Vital", "Champion", "Challenger", "Difference", "p-value", "In words"])


def drift_rows(points: pd.DataFrame) -> pd.DataFrame:
    """Per feature: the test, its score and threshold, and whether the challenger's inputs drift."""
    scores = points[(points["metric"] == "compare_feature_drift_score") & points["feature"].notna()]
    rows = []
    for row in scores.sort_values("feature").itertuples():
        details = _details(row.details)
        rows.append({"Feature": row.feature, "Test": details.get("method") or "—",
                     "Score": _number(row.value), "Threshold": _number(row.threshold),
                     "Drifts": bool(row.is_breach) if row.is_breach is not None and not pd.isna(row.is_breach)
                     else None,
                     "Note": details.get("reason") or ""})
    return pd.DataFrame(rows, columns=["Feature", "Test", "Score", "Threshold", "Drifts", "Note"])
