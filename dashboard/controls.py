"""Streamlit pieces every page shares: the store guard, the selectors, banners.

Selections are *sticky*: the model chosen on one page is preselected on the next
(Streamlit forgets a widget's state when its page is not shown, so the choice is
kept under a separate session key).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import queries
from dashboard.frames import current_models, default_model
from dashboard.health import HealthStatus, assess_models
from dashboard.settings import resolve_store_url
from dashboard.store import check_store
from dashboard.style import STYLE
from dashboard.time_ranges import AROUND_WINDOW, PRESETS, TimeRange, resolve_range
from monitor.errors import DriftwatchError
from monitor.store.engine import redact_url

__all__ = [
    "DeepLink",
    "deep_link",
    "health_banner",
    "keep_link",
    "model_health",
    "models_or_stop",
    "now_utc",
    "pick_model",
    "pick_range",
    "pick_scope",
    "pick_version",
    "Scope",
    "show_error",
    "store_url_or_stop",
]


def now_utc() -> datetime:
    return datetime.now(UTC)


def show_error(exc: BaseException) -> None:
    st.error(f"**The dashboard cannot read the store.** {exc}", icon=":material/database_off:")


def store_url_or_stop() -> str:
    """The store URL, after checking it answers and has the schema; else an error and stop.

    Every page starts here, so this also adds the dashboard's CSS: a page opened by its
    URL as a fresh server's first request runs without ``app.py``.
    """
    st.html(STYLE)
    try:
        url = resolve_store_url()
        check_store(url)
    except DriftwatchError as exc:
        show_error(exc)
        st.stop()
    return url


def models_or_stop(url: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(model_windows, current_models); an empty store shows a notice and stops."""
    windows = queries.model_windows(url)
    if windows.empty:
        st.info(
            f"No computed windows in {redact_url(url)} yet. Once `driftwatch run` (or `driftwatch compute`) "
            "has computed the first window of a model, its vitals appear here.",
            icon=":material/hourglass_empty:",
        )
        st.stop()
    return windows, current_models(windows)


def _sticky_select(
    label: str,
    options: Sequence[Any],
    *,
    key: str,
    sticky: str,
    override: Any = None,
    default: Any = None,
    format_func: Callable[[Any], str] = str,
    help: str | None = None,
) -> Any:
    if override is not None and override in options:
        st.session_state[key] = override
    elif st.session_state.get(key) not in options:
        preferred = st.session_state.get(sticky)
        fallback = default if default in options else options[0]
        st.session_state[key] = preferred if preferred in options else fallback
    value = st.selectbox(label, options, key=key, format_func=format_func, help=help)
    st.session_state[sticky] = value
    return value


def model_health(url: str, models: pd.DataFrame) -> dict[str, HealthStatus]:
    """Every model's health: its open alerts and its newest complete window."""
    latest = models.dropna(subset=["last_complete_window"])
    points = queries.latest_points(url, queries.pairs(list(latest["model"]), list(latest["last_complete_window"])))
    alerts = queries.alert_list(url)
    open_alerts = alerts[alerts["state"].isin(["pending", "firing"])] if not alerts.empty else alerts
    return assess_models(models["model"], open_alerts, points)


def pick_model(url: str, models: pd.DataFrame, *, key: str, override: str | None = None) -> str:
    """The model selector; without a previous choice it starts at the model that needs
    attention most (worst health, then worst open alert)."""
    names = list(models["model"])
    health = {model: status.health for model, status in model_health(url, models).items()}
    return str(_sticky_select("Model", names, key=key, sticky="dw.model", override=override,
                              default=default_model(names, queries.alert_list(url), health)))


@dataclass(frozen=True)
class DeepLink:
    """The ``?model=M&version=V&window=ISO`` of a page's URL; ``new`` when not yet applied."""

    model: str | None
    version: str | None
    window: str | None
    new: bool

    @property
    def override(self) -> tuple[str | None, str | None]:
        """What the selectors should jump to: the link's model and version, once."""
        return (self.model, self.version) if self.new else (None, None)


def deep_link(key: str) -> DeepLink:
    """Read the page's deep link. A link counts as new until :func:`keep_link` has
    written it back, so the selectors jump to it once and stay free afterwards."""
    params = st.query_params
    link = (params.get("model"), params.get("version"), params.get("window"))
    new = any(link) and st.session_state.get(f"dw.link.{key}") != link
    return DeepLink(*link, new=bool(new))


def keep_link(key: str, model: str, version: str, window: str | None = None) -> None:
    """Keep the URL a shareable link to what the page shows (every per-model page)."""
    wanted = {"model": model, "version": version, **({"window": window} if window else {})}
    if dict(st.query_params) != wanted:
        st.query_params.from_dict(wanted)
    st.session_state[f"dw.link.{key}"] = (model, version, window)


def pick_version(windows: pd.DataFrame, model: str, *, key: str, override: str | None = None) -> str:
    """Versions of ``model``, newest window first; the current one is preselected."""
    versions = list(windows[windows["model"] == model].sort_values("last_window", ascending=False)["model_version"])
    current = versions[0]
    chosen = _sticky_select(
        "Version",
        versions,
        key=key,
        sticky=f"dw.version.{model}",
        override=override,
        format_func=lambda v: f"{v} (current)" if v == current else str(v),
    )
    return str(chosen)


def pick_range(*, key: str, latest_end: datetime, default: str = "Last 7 days",
               window: datetime | None = None) -> tuple[str, TimeRange]:
    """The time-range selector; with a linked ``window`` it offers (and picks) the range around it."""
    options = ([AROUND_WINDOW] if window is not None else []) + list(PRESETS)
    new_link = window is not None and st.session_state.get(f"{key}.window") != window
    st.session_state[f"{key}.window"] = window
    label = _sticky_select("Time range", options, key=key, sticky=f"dw.range.{key}",
                           override=AROUND_WINDOW if new_link else None, default=default,
                           help="Ranges end at the newest window in the store (times in UTC).")
    return str(label), resolve_range(str(label), latest_end=latest_end, window=window)


@dataclass(frozen=True)
class Scope:
    """What a page shows: a model, one of its versions (with its ``windows`` row), a range."""

    model: str
    version: str
    info: pd.Series
    range_label: str
    span: TimeRange
    window: datetime | None


def pick_scope(url: str, windows: pd.DataFrame, models: pd.DataFrame, *, key: str,
               default_range: str = "Last 7 days", override: tuple[str | None, str | None] = (None, None),
               window: Callable[[str], datetime | None] | None = None, extra_columns: int = 0,
               ) -> tuple[Scope, list[Any]]:
    """The model / version / time-range row every per-model page starts with.

    Widget keys are ``{key}.model``, ``{key}.version`` and ``{key}.range``. ``override``
    preselects a model and version (a deep link); ``window(model)`` is the linked window
    to offer a range around, if any. Returns the scope and ``extra_columns`` more columns
    of the same row for the page's own controls.
    """
    controls = st.columns([2, 2, 3, *([2] * extra_columns)], vertical_alignment="bottom")
    with controls[0]:
        model = pick_model(url, models, key=f"{key}.model", override=override[0])
    with controls[1]:
        version = pick_version(windows, model, key=f"{key}.version", override=override[1])
    info = windows[(windows["model"] == model) & (windows["model_version"] == version)].iloc[0]
    linked = window(model) if window is not None else None
    with controls[2]:
        label, span = pick_range(key=f"{key}.range", latest_end=info["last_window_end"].to_pydatetime(),
                                 default=default_range, window=linked)
    return Scope(model, version, info, label, span, linked), list(controls[3:])


def health_banner(model: str, status: HealthStatus) -> None:
    text = f"**{model}** is **{status.health.value}**: {status.summary}"
    if status.health.value == "red":
        st.error(text, icon=":material/error:")
    elif status.health.value == "amber":
        st.warning(text, icon=":material/warning:")
    else:
        st.success(text, icon=":material/check_circle:")
