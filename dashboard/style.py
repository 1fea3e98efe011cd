"""CSS the dashboard adds to Streamlit's: whole values on narrow tiles, tighter margins.

Streamlit cuts a tile's value with "…" when its column is narrower than the text at
2.25 rem, which a row of five tiles is in a 1000 px wide window. Values here scale
with the window (from 1.25 rem to 2 rem) and wrap instead of being cut, as do long words in static tables; below
1280 px the page's side margins shrink from 5 rem to 1.5 rem so tables keep their
columns in view.
"""

from __future__ import annotations

__all__ = ["STYLE"]

STYLE = """
<style>
[data-testid="stMetricValue"] { font-size: clamp(1.25rem, 2vw, 2rem); }
[data-testid="stMetricValue"] > div,
[data-testid="stMetricLabel"] div,
[data-testid="stMetricLabel"] p {
  white-space: normal; overflow: visible; text-overflow: clip; overflow-wrap: anywhere;
}
/* Static tables wrap long tokens (URLs in errors) rather than run past their box. */
[data-testid="stTable"] td { overflow-wrap: anywhere; }
@media (max-width: 1280px) {
  [data-testid="stMainBlockContainer"] { padding-left: 1.5rem; padding-right: 1.5rem; }
}
</style>
"""
