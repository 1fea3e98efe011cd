"""The model page's window table: metrics with learned lower and upper thresholds
(estimated performance, multivariate drift) show the threshold their value crossed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pandas as pd
import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from monitor.store.tables import metric_values

pytestmark = pytest.mark.usefixtures("seeded")

LINK = {"model": "fraud", "version": "v2", "window": "2026-01-15T10:00:00+00:00"}


def test_the_window_table_shows_the_learned_threshold_that_was_crossed(
        open_app: Callable[..., AppTest], engine: Engine) -> None:
    start = datetime(2026, 1, 15, 10, tzinfo=UTC)
    common = {"model": "fraud", "model_version": "v2", "window_start": start,
              "window_end": start + pd.Timedelta(hours=1), "feature": None, "is_partial": False,
              "computed_at": datetime(2026, 1, 15, 12, tzinfo=UTC)}
    rows = [  # (metric, value, lower, upper, breach); the job stores the upper one as `threshold`
        ("estimated_specificity", 0.70, 0.80, 0.95, True),  # below its lower threshold
        ("estimated_roc_auc", 0.99, 0.80, 0.95, True),  # above its upper one
        ("multivariate_drift", 1.1, 0.75, 1.25, False),  # inside
    ]
    with engine.begin() as connection:
        for metric, value, lower, upper, breach in rows:
            connection.execute(metric_values.insert().values(
                **common, metric=metric, value=value, threshold=upper, is_breach=breach,
                details={"method": "pca" if metric == "multivariate_drift" else "cbpe", "lower_threshold": lower,
                         "upper_threshold": upper, "lower_band": value - 0.02, "upper_band": value + 0.02}))
    at = open_app("model", LINK)
    assert not at.exception, [e.value for e in at.exception]
    [window] = [frame.value for frame in at.dataframe if "Threshold" in frame.value.columns]
    table = window.set_index("Metric")
    assert table.loc["Specificity (estimated)", "Threshold"] == "lower 0.8"
    assert table.loc["ROC AUC (estimated)", "Threshold"] == "upper 0.95"
    assert table.loc["Multivariate drift", "Threshold"] == "0.75 – 1.25"
    assert (table.loc["Specificity (estimated)", "Breach"], table.loc["Multivariate drift", "Breach"]) == ("yes", "")
