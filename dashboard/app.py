"""driftwatch dashboard: ``streamlit run dashboard/app.py`` (``driftwatch dashboard`` runs it).

The store URL comes from ``-- --store URL``, ``$DRIFTWATCH_STORE`` or the config
file (see :mod:`dashboard.settings`). A store that is down or has no schema shows
one clear message instead of the page.
"""

from __future__ import annotations

import streamlit as st

from dashboard.controls import show_error, store_url_or_stop
from dashboard.navigation import build_pages
from dashboard.settings import QUERY_TTL
from monitor.errors import DriftwatchError
from monitor.store.engine import redact_url


def main() -> None:
    st.set_page_config(page_title="driftwatch", page_icon=":material/monitoring:", layout="wide")
    page = st.navigation(build_pages())
    with st.sidebar:
        st.caption("driftwatch · model monitoring")
    url = store_url_or_stop()
    with st.sidebar:
        st.caption(f"Store: `{redact_url(url)}`  \nData refreshes every {int(QUERY_TTL.total_seconds())} s.")
        if st.button("Refresh now", icon=":material/refresh:", width="stretch"):
            st.cache_data.clear()
    try:
        page.run()
    except DriftwatchError as exc:
        show_error(exc)


main()
