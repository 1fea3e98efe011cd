"""Time axes as drawn in a real browser (``driftwatch dashboard`` + headless Chromium): the
tick labels Vega actually shows are distinct and share one format, for 1-minute windows
(sub-minute ticks once read "12:05 12:05 12:05"). The Versions page's history axis is
checked in test_versions_browser.py."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from selenium.webdriver.remote.webdriver import WebDriver
from sqlalchemy import Engine

from tests.dashboard.browser import headless_chromium, open_page
from tests.dashboard.seed import known_spec, seed_store
from tests.dashboard.server import DashboardProcess
from tests.dashboard.test_browser import legends_cut

pytestmark = pytest.mark.browser

# The x-axis tick labels of every chart on the page (those Vega hid for overlap left out).
X_LABELS = """
return [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')].map(chart =>
  [...chart.querySelectorAll('.role-axis')]
    .filter(axis => (axis.getAttribute('aria-label') || '').startsWith('X-axis'))
    .flatMap(axis => [...axis.querySelectorAll('.role-axis-label text')])
    .filter(text => text.getAttribute('opacity') !== '0' && text.style.opacity !== '0')
    .map(text => text.textContent));
"""
# One pattern per format time_axis picks: every label of an axis must match the same one.
FORMATS = {"time": r"\d\d:\d\d", "day and time": r"[A-Z][a-z]{2} \d\d \d\d:\d\d", "day": r"[A-Z][a-z]{2} \d\d",
           "month": r"[A-Z][a-z]{2} \d{4}"}


def x_labels(driver: WebDriver) -> list[list[str]]:
    return [list(labels) for labels in driver.execute_script(X_LABELS)]


def assert_readable(labels: list[str]) -> None:
    assert len(labels) >= 2, labels
    assert len(set(labels)) == len(labels), f"repeated tick labels: {labels}"
    formats = {name for label in labels for name, pattern in FORMATS.items() if re.fullmatch(pattern, label)}
    matched = [name for name, pattern in FORMATS.items() if all(re.fullmatch(pattern, label) for label in labels)]
    assert matched, f"tick labels in more than one format ({sorted(formats)}): {labels}"


@pytest.mark.slow
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_heatmap_ticks_of_one_minute_windows_are_distinct_at_common_widths(engine: Engine, store_url: str,
                                                                           tmp_path: Path) -> None:
    end = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    seed_store(engine, known_spec(end=end, window=timedelta(minutes=1), window_count=6))
    server = DashboardProcess(store_url, tmp_path).start()
    try:
        with headless_chromium() as browser:
            for width in (1000, 1400):
                browser.set_window_size(width, 1000)
                open_page(browser, server.base_url + "/drift?model=fraud", "Data drift")
                heatmap = x_labels(browser)[0]
                assert_readable(heatmap)
                assert all(re.fullmatch(FORMATS["time"], label) for label in heatmap), heatmap
                assert legends_cut(browser) == []
    finally:
        assert server.stop() == 0, server.output()
