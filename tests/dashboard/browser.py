"""Headless Chromium driven by Selenium, for the browser test and the dashboard benchmark.

Uses Debian's ``chromium`` and ``chromium-driver`` packages (the system browser and
its matching driver); Selenium Manager never downloads anything.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

__all__ = ["WIDTH", "chromium_missing", "css", "headless_chromium", "open_page", "script_state", "text_of"]

WIDTH = 1440
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic",
         "--no-first-run", f"--window-size={WIDTH},1000", "--force-device-scale-factor=1", "--lang=en-US")


def chromium_missing() -> str | None:
    """Why the browser cannot run here, or None when it can."""
    if shutil.which("chromium") is None or shutil.which("chromedriver") is None:
        return "headless Chromium is missing: apt-get install -y chromium chromium-driver"
    return None


@contextmanager
def headless_chromium() -> Iterator[WebDriver]:
    """Chromium with a fresh profile directory, removed afterwards."""
    profile = tempfile.mkdtemp(prefix="driftwatch-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(shutil.which("chromium"))
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(shutil.which("chromedriver"))), options=options)
    driver.set_page_load_timeout(120)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def css(driver: WebDriver, selector: str) -> list[Any]:
    return list(driver.find_elements(By.CSS_SELECTOR, selector))


def text_of(driver: WebDriver) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, '[data-testid="stMain"]').text)


def script_state(driver: WebDriver) -> str:
    """Streamlit's own run state on ``stApp``: initial, running, notRunning, ..."""
    apps = css(driver, '[data-testid="stApp"]')
    return str(apps[0].get_attribute("data-test-script-state")) if apps else "initial"


def open_page(driver: WebDriver, url: str, heading: str, *, settle_s: float = 1.0) -> str:
    """Load ``url`` in a fresh session; wait until the script run is over and every chart is drawn.

    Returns the page's text. A Streamlit exception element fails an assertion.
    """
    driver.get(url)
    # Streamlit re-renders while a page loads: an element found may be replaced before it is read.
    wait = WebDriverWait(driver, 120, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,))
    wait.until(lambda d: script_state(d) == "notRunning"
               and (heading in [h.text for h in d.find_elements(By.CSS_SELECTOR, "h1")]
                    or css(d, '[data-testid="stException"]')))
    wait.until(lambda d: all(chart.find_elements(By.CSS_SELECTOR, "canvas, svg")
                             for chart in css(d, '[data-testid="stVegaLiteChart"]')))
    time.sleep(settle_s)  # the last vega and data-grid paints
    assert not css(driver, '[data-testid="stException"]'), text_of(driver)
    return text_of(driver)
