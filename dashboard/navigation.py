"""The dashboard's pages and their URLs.

The model page lives at ``/model`` because alert notifications link to
``{base_url}/model?model=M&version=V&window=...``; keep that path stable.

The page scripts live in ``views/``, never ``pages/``: Streamlit auto-discovers a
``pages/`` folder beside the main script and, for the first request to a fresh server,
would run ``pages/drift.py`` for ``/drift`` directly, skipping ``app.py`` (its sidebar,
store check and this navigation).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

__all__ = ["PAGES", "page_file", "build_pages"]

PAGES_DIR = Path(__file__).resolve().with_name("views")

# key: (file, title, icon, url_path); each url_path is its file's stem, which is also
# how streamlit.testing's AppTest.switch_page finds a page before the first run.
PAGES: dict[str, tuple[str, str, str, str]] = {
    "overview": ("overview.py", "Overview", ":material/monitor_heart:", "overview"),
    "model": ("model.py", "Model", ":material/query_stats:", "model"),
    "drift": ("drift.py", "Drift", ":material/compare_arrows:", "drift"),
    "alerts": ("alerts.py", "Alerts", ":material/notifications_active:", "alerts"),
    "data_quality": ("data_quality.py", "Data quality", ":material/rule:", "data_quality"),
    "versions": ("versions.py", "Versions", ":material/compare:", "versions"),
}


def page_file(key: str) -> str:
    """The script of a page, as ``st.page_link`` and ``st.switch_page`` take it."""
    return str(PAGES_DIR / PAGES[key][0])


def build_pages() -> list[st.Page]:
    return [
        st.Page(page_file(key), title=title, icon=icon, url_path=url_path, default=key == "overview")
        for key, (_file, title, icon, url_path) in PAGES.items()
    ]
