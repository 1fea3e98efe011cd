"""The dashboard in a real browser: ``driftwatch dashboard`` + headless Chromium (Selenium).

Needs Debian's ``chromium`` and ``chromium-driver`` packages (``apt-get install -y
chromium chromium-driver``). Every page is loaded from a fresh session, checked for
its key elements and for the absence of a Streamlit exception, and screenshotted;
the SQLite run writes ``docs/screenshots/*.png``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import Engine, func, select

from alerts.outbox import dashboard_url
from monitor.store.tables import metric_values
from tests.dashboard.browser import WIDTH, chromium_missing, css, headless_chromium, open_page, script_state, text_of
from tests.dashboard.seed import known_spec, seed_store
from tests.dashboard.server import DashboardProcess

pytestmark = pytest.mark.browser

# The committed screenshots are rewritten only on request
# (DRIFTWATCH_UPDATE_SCREENSHOTS=1); otherwise they go to the test's temporary directory.
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
UPDATE_DOCS = os.environ.get("DRIFTWATCH_UPDATE_SCREENSHOTS") == "1"
# The test command installs Chromium, so a missing browser fails the run (it must not
# pass by skipping); DRIFTWATCH_ALLOW_NO_BROWSER=1 skips it on a machine without one.
if (reason := chromium_missing()) is not None:
    if os.environ.get("DRIFTWATCH_ALLOW_NO_BROWSER") == "1":
        pytest.skip(reason, allow_module_level=True)
    pytest.fail(f"{reason} (or set DRIFTWATCH_ALLOW_NO_BROWSER=1 to skip the browser test)", pytrace=False)


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    with headless_chromium() as driver:
        yield driver


@pytest.fixture
def live_store(engine: Engine) -> datetime:
    """The known scenario, ending in the current hour so the dashboard looks live."""
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return seed_store(engine, known_spec(end=end)).latest_complete


def screenshot(driver: WebDriver, name: str, save: Path | None) -> None:
    height = driver.execute_script(
        "const main = document.querySelector('[data-testid=\"stMain\"]');"
        "return Math.max(main.scrollHeight, document.body.scrollHeight);"
    )
    driver.set_window_size(WIDTH, min(int(height) + 40, 4200))
    time.sleep(1.5)
    assert not css(driver, '[data-testid="stException"]')
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(save / f"{name}.png"))
    driver.set_window_size(WIDTH, 1000)


def test_every_page_in_a_real_browser(engine: Engine, store_url: str, live_store: datetime, tmp_path: Path,
                                      browser: WebDriver) -> None:
    save = (DOCS_SCREENSHOTS if UPDATE_DOCS else tmp_path / "screenshots") if store_url.startswith("sqlite") else None
    server = DashboardProcess(store_url, tmp_path).start()
    try:
        page = open_page(browser, server.base_url + "/", "Model health")
        assert "Open alerts (3)" in page and "fraud-data-drift" in page
        badges = [b.text.split()[-1] for b in css(browser, "span.stMarkdownBadge")]
        assert badges == ["red", "amber", "green"]
        assert len(css(browser, '[data-testid="stMetric"]')) == 15
        screenshot(browser, "overview", save)

        # Exactly the link an alert notification carries.
        link = dashboard_url(server.base_url, model="fraud", model_version="v2", window_start=live_store)
        page = open_page(browser, link, "Model vitals")
        assert "fraud is red" in page
        assert "Headline: linked window" in page
        assert len(css(browser, '[data-testid="stVegaLiteChart"]')) >= 7
        assert "window=" in browser.current_url  # the URL stays a link to this view
        screenshot(browser, "model", save)

        page = open_page(browser, server.base_url + "/drift", "Data drift")
        assert "Drift strength by feature and window" in page and "Features ranked by drift" in page
        assert "2 of 4" in page and "chisquare" in page
        assert "Dataset drift verdict" in page and "Alert fraud-data-drift is firing" in page
        screenshot(browser, "drift", save)

        page = open_page(browser, server.base_url + "/alerts", "Alerts")
        for expected in ("Firing (1)", "Pending (1)", "Silenced (1)", "Resolved (1)", "Notifications", "Silences"):
            assert expected in page
        screenshot(browser, "alerts", save)

        page = open_page(browser, server.base_url + "/data_quality", "Data quality")
        for expected in ("Dead letters", "12", "Kinds of reason", "By kind of reason", "Latest samples",
                         "Feature quality", "Missing"):
            assert expected in page
        assert len(css(browser, '[data-testid="stDataFrame"]')) == 3  # reasons, samples, newest window
        screenshot(browser, "data_quality", save)

        # The sidebar navigation works within one session too.
        browser.find_element(By.CSS_SELECTOR, '[data-testid="stSidebarNav"] a[href$="/model"]').click()
        WebDriverWait(browser, 120, ignored_exceptions=(StaleElementReferenceException,)).until(
            lambda d: "Model vitals" in [h.text for h in d.find_elements(By.CSS_SELECTOR, "h1")])
        assert not css(browser, '[data-testid="stException"]')
    finally:
        code = server.stop()
    assert code == 0, server.output()


# Elements whose text overflows its box (cut with "…" or hidden), as [kind, text, needed, shown] rows.
CUT_OFF = """
const cut = [];
for (const tile of document.querySelectorAll('[data-testid="stMetricValue"], [data-testid="stMetricLabel"]')) {
  for (const node of [tile, ...tile.querySelectorAll('*')]) {
    if (node.scrollWidth > node.clientWidth + 1) {
      cut.push(['tile', tile.innerText, node.scrollWidth, node.clientWidth]);
      break;
    }
  }
}
for (const label of document.querySelectorAll('[data-testid="stMain"] [data-testid="stWidgetLabel"]')) {
  for (const node of [label, ...label.querySelectorAll('*')]) {
    if (node.scrollWidth > node.clientWidth + 1) { cut.push(['widget label', label.innerText, node.scrollWidth,
                                                            node.clientWidth]); break; }
  }
}
for (const table of document.querySelectorAll('[data-testid="stTable"]')) {
  const box = table.getBoundingClientRect();
  for (const cell of table.querySelectorAll('th, td')) {
    const r = cell.getBoundingClientRect();
    if (r.width > 0 && r.right > box.right + 1) { cut.push(['table cell', cell.innerText, r.right, box.right]); break; }
  }
}
return cut;
"""


def cut_off(driver: WebDriver) -> list[list[object]]:
    return list(driver.execute_script(CUT_OFF))


# Chart legend labels drawn past their chart's right edge (Vega clips a legend wider than
# its chart) or shortened with "…", as [label, right, chart right] rows.
LEGEND_CUT = """
const cut = [];
for (const chart of document.querySelectorAll('[data-testid="stVegaLiteChart"]')) {
  const right = chart.getBoundingClientRect().right;
  for (const label of chart.querySelectorAll('.role-legend-label text')) {
    const r = label.getBoundingClientRect().right;
    if (r > right + 1 || label.textContent.endsWith('…')) cut.push([label.textContent, r, right]);
  }
}
return cut;
"""


def legends_cut(driver: WebDriver) -> list[list[object]]:
    return list(driver.execute_script(LEGEND_CUT))


@pytest.mark.slow
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_values_and_alert_tables_are_whole_at_common_widths(engine: Engine, store_url: str, live_store: datetime,
                                                            tmp_path: Path, browser: WebDriver) -> None:
    """Tiles show their whole value, chart legends every label and alert tables every column
    (no "40.0…", no cut-off Fired), at 1000 and 1400 px (one server for both)."""
    server = DashboardProcess(store_url, tmp_path).start()
    try:
        for width in (1000, 1400):
            browser.set_window_size(width, 1000)
            # Straight from its URL: the drift page honours ?model= and keeps its tiles whole
            # ("chisquare", not "chisq…").
            page = open_page(browser, server.base_url + "/drift?model=churn", "Data drift")
            assert "model=churn&version=v1" in browser.current_url  # the page wrote its choice back
            assert "No open alerts on drift metrics" in page  # churn's: fraud has a firing one
            assert cut_off(browser) == [], width
            page = open_page(browser, server.base_url + "/", "Model health")
            assert cut_off(browser) == [], width
            for value in ("50.00%", "126 ms", "0.85", "MAE"):
                assert value in page
            page = open_page(browser, server.base_url + "/model?model=fraud&version=v2", "Model vitals")
            assert cut_off(browser) == [] and "80.00%" in page, width
            assert legends_cut(browser) == [], width  # "Latency p99", not "Lat…"
            page = open_page(browser, server.base_url + "/alerts", "Alerts")
            assert cut_off(browser) == [], width
            header = [cell.text for cell in css(browser, '[data-testid="stTable"] th')]
            assert "Fired" in header, (width, header)
    finally:
        assert server.stop() == 0, server.output()


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_deep_link_as_the_first_request_runs_the_app_with_its_navigation(
        engine: Engine, store_url: str, live_store: datetime, tmp_path: Path, browser: WebDriver) -> None:
    """A notification's link is often the first request a freshly started dashboard gets:
    the page must run inside app.py (sidebar navigation, store caption), never alone."""
    server = DashboardProcess(store_url, tmp_path).start()
    try:
        page = open_page(browser, server.base_url + "/drift?model=churn", "Data drift")
        assert "model=churn&version=v1" in browser.current_url and "No open alerts on drift metrics" in page
        links = [link.text.splitlines()[-1] for link in css(browser, '[data-testid="stSidebarNav"] a')]
        assert links == ["Overview", "Model", "Drift", "Alerts", "Data quality", "Versions"], links
        sidebar = browser.find_element(By.CSS_SELECTOR, '[data-testid="stSidebar"]').text
        assert "driftwatch · model monitoring" in sidebar and "Store:" in sidebar and "Refresh now" in sidebar
    finally:
        assert server.stop() == 0, server.output()


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_auto_refresh_shows_a_window_computed_after_the_page_loaded(engine: Engine, store_url: str,
                                                                    live_store: datetime, tmp_path: Path,
                                                                    browser: WebDriver) -> None:
    """The model page's auto-refresh reruns only its charts (a Streamlit fragment): the
    time range must move on to windows the scheduler computed since the page loaded."""
    server = DashboardProcess(store_url, tmp_path, auto_refresh="2s", query_ttl="1s").start()
    try:
        open_page(browser, server.base_url + "/model?model=fraud&version=v2", "Model vitals")
        with engine.connect() as connection:
            end = connection.execute(
                select(func.max(metric_values.c.window_end)).where(
                    metric_values.c.model == "fraud", metric_values.c.model_version == "v2",
                    metric_values.c.metric == "prediction_count")).scalar_one()
        end = end if isinstance(end, datetime) else datetime.fromisoformat(end)
        end = end if end.tzinfo else end.replace(tzinfo=UTC)
        assert f"to {end:%Y-%m-%d %H:%M} UTC." in text_of(browser)
        toggle = browser.find_element(By.XPATH, '//label[.//p[text()="Auto-refresh"]]')
        toggle.click()
        WebDriverWait(browser, 30).until(lambda d: script_state(d) == "notRunning")
        # The scheduler computes the next window; no one touches the page.
        with engine.begin() as connection:
            connection.execute(metric_values.insert().values(
                model="fraud", model_version="v2", window_start=end, window_end=end + timedelta(hours=1),
                metric="prediction_count", value=700.0, is_partial=False, computed_at=datetime.now(UTC)))
        newer = f"to {end + timedelta(hours=1):%Y-%m-%d %H:%M} UTC."
        WebDriverWait(browser, 60, poll_frequency=0.5).until(lambda d: newer in text_of(d))
        assert not css(browser, '[data-testid="stException"]')
    finally:
        assert server.stop() == 0, server.output()
