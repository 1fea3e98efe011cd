"""The columnar copy of feature objects is the same whichever way it is built."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.store.row_format import _feature_values, features_table, rows_features

values = st.one_of(st.none(), st.booleans(), st.integers(-(2**64), 2**64), st.floats(allow_nan=False),
                   st.sampled_from([0, 1, 0.0, 1.0, "", "DE", "1"]), st.text(max_size=4))
names = st.sampled_from(["a", "b", "c", "f:x", "é"])


@st.composite
def feature_rows(draw: st.DrawFn) -> list[dict[str, object]]:
    """Rows with the same names (often: the per-feature path) or not (the struct path)."""
    same = draw(st.lists(names, min_size=2, max_size=4, unique=True))
    rows = []
    for _ in range(draw(st.integers(1, 6))):
        keys = same if draw(st.integers(0, 4)) else draw(st.lists(names, max_size=4, unique=True))
        rows.append({key: draw(values) for key in draw(st.permutations(keys))})
    return rows


@settings(max_examples=400, deadline=None)
@given(rows=feature_rows())
def test_rows_features_builds_what_the_value_by_value_path_builds(rows: list[dict[str, object]]) -> None:
    built, expected = rows_features(rows), features_table(_feature_values(rows))
    assert built.schema.equals(expected.schema, check_metadata=True), (built.schema, expected.schema)
    assert built.to_pylist() == expected.to_pylist()
