"""The Versions page in a real browser (``driftwatch dashboard`` + headless Chromium) at the
common widths: reachable from the navigation, every value and table cell whole, its history's
time axis readable. One server and one browser for both widths."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import Engine

from tests.dashboard.browser import css, headless_chromium, open_page
from tests.dashboard.server import DashboardProcess
from tests.dashboard.test_browser import DOCS_SCREENSHOTS, UPDATE_DOCS, cut_off, legends_cut
from tests.dashboard.test_time_axes import assert_readable, x_labels
from tests.dashboard.test_versions_page import seed_canary

pytestmark = pytest.mark.browser


def _screenshot(driver: WebDriver, path: Path, width: int) -> None:
    height = driver.execute_script(
        "const main = document.querySelector('[data-testid=\"stMain\"]');"
        "return Math.max(main.scrollHeight, document.body.scrollHeight);")
    driver.set_window_size(width, min(int(height) + 40, 4200))
    time.sleep(1.5)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(path))
    driver.set_window_size(width, 1000)


@pytest.mark.slow
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_versions_page_is_reachable_and_whole_at_common_widths(engine: Engine, store_url: str,
                                                                   tmp_path: Path) -> None:
    seed_canary(engine, hours=4)
    server = DashboardProcess(store_url, tmp_path).start()
    try:
        with headless_chromium() as browser:
            for width in (1000, 1400):
                browser.set_window_size(width, 1000)
                open_page(browser, server.base_url + "/", "Model health")
                browser.find_element(By.CSS_SELECTOR, '[data-testid="stSidebarNav"] a[href$="/versions"]').click()
                # Streamlit re-renders while the page loads: a heading found may be replaced before it is read.
                WebDriverWait(browser, 120, ignored_exceptions=(StaleElementReferenceException,)).until(
                    lambda d: "Versions side by side" in [h.text for h in d.find_elements(By.CSS_SELECTOR, "h1")])
                page = open_page(browser, server.base_url + "/versions", "Versions side by side")
                assert not css(browser, '[data-testid="stException"]')
                for expected in ("Serving and performance", "v2 is worse: error rate higher by",
                                 "Significant: p < 0.0001", "Drift of v2 against v1", "Differences over time"):
                    assert expected in page, (width, expected)
                assert cut_off(browser) == []
                # the history's time axis: distinct ticks in one format (it once mixed "12:05" with "01 AM")
                assert_readable(x_labels(browser)[-1])
                assert legends_cut(browser) == []
                save = DOCS_SCREENSHOTS / "versions.png" if UPDATE_DOCS and width == 1400 else \
                    tmp_path / f"versions-{width}.png"
                _screenshot(browser, save, width)
    finally:
        assert server.stop() == 0, server.output()
