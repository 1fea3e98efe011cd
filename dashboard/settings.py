"""Where the dashboard's store is and how fresh its data is kept.

The store URL comes from ``streamlit run app.py -- --store URL``, else from the
``DRIFTWATCH_STORE`` environment variable (``driftwatch dashboard`` sets it from
the loaded config), else from the config file like every other command.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from datetime import timedelta

from monitor.config import load_config, override_name, parse_duration

__all__ = ["AUTO_REFRESH", "QUERY_TTL", "REFRESH_ENV", "STORE_ENV", "TTL_ENV", "duration_from", "resolve_store_url",
           "store_url_from"]

STORE_ENV = "DRIFTWATCH_STORE"
# Config keys dashboard.auto_refresh / dashboard.query_ttl, which `driftwatch dashboard`
# hands to the Streamlit process under these (the config's own override) names.
REFRESH_ENV = override_name("dashboard", "auto_refresh")
TTL_ENV = override_name("dashboard", "query_ttl")


def duration_from(environ: Mapping[str, str], name: str, default: timedelta) -> timedelta:
    """A duration (``30s``, ``2m``) from the environment, else ``default``.

    >>> duration_from({"X": "2s"}, "X", timedelta(seconds=30))
    datetime.timedelta(seconds=2)
    >>> duration_from({}, "X", timedelta(seconds=30))
    datetime.timedelta(seconds=30)
    """
    text = environ.get(name)
    return default if not text else parse_duration(text)


# Short enough that an on-call engineer sees a new window within a refresh,
# long enough that page switches and widget changes reuse the results.
QUERY_TTL = duration_from(os.environ, TTL_ENV, timedelta(seconds=15))
AUTO_REFRESH = duration_from(os.environ, REFRESH_ENV, timedelta(seconds=30))


def store_url_from(argv: Sequence[str], environ: Mapping[str, str]) -> str | None:
    """The store URL named by ``--store URL`` / ``--store=URL`` or the environment.

    >>> store_url_from(["app.py", "--store", "sqlite:///a.db"], {})
    'sqlite:///a.db'
    >>> store_url_from([], {"DRIFTWATCH_STORE": "sqlite:///b.db"})
    'sqlite:///b.db'
    >>> store_url_from([], {}) is None
    True
    """
    for index, arg in enumerate(argv):
        if arg == "--store" and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith("--store="):
            return arg.split("=", 1)[1]
    return environ.get(STORE_ENV) or None


def resolve_store_url() -> str:
    """The store this dashboard reads; raises ``ConfigError`` for a bad config file."""
    return store_url_from(sys.argv[1:], os.environ) or load_config().store
