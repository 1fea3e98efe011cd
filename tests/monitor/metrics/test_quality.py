"""Per-feature data quality, the typed feature columns, and the value classification under them."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.errors import MetricError
from monitor.metrics import categories, column, features, quality
from monitor.metrics.categories import category_key, category_keys
from monitor.metrics.column import ValueKind, to_series, value_kinds
from monitor.metrics.features import FeatureSpec, coerce_feature, coerce_features
from monitor.metrics.quality import compute_feature_quality, compute_quality

from .point_contract import check_points, run_doctests

AMOUNT = FeatureSpec(type="numeric", min=0, max=10)
COUNTRY = FeatureSpec(type="categorical", values=["DE", "FR", 1])


def by_metric(points: list[Any]) -> dict[str, Any]:
    return {metric: point for (metric, _), point in check_points(points).items()}


# -- known answers ---------------------------------------------------------------------------


def test_numeric_feature_known_answer() -> None:
    # 7 rows, 1 missing; of the 6 present "x" and True are mismatches; of the
    # numbers 5, -1, 15, 10 the values -1 and 15 are outside [0, 10].
    raw = pd.Series([5, -1, None, "x", True, 15, 10], dtype=object)
    got = by_metric(compute_feature_quality(raw, AMOUNT, feature="amount"))
    assert list(got) == ["missing_share", "type_mismatch_share", "out_of_range_share"]
    assert got["missing_share"].value == pytest.approx(1 / 7)
    assert got["type_mismatch_share"].value == pytest.approx(2 / 6)
    assert got["out_of_range_share"].value == 0.5
    assert got["out_of_range_share"].details == {
        "min": 0.0,
        "max": 10.0,
        "min_source": "config",
        "max_source": "config",
        "n_checked": 4,
        "n_out_of_range": 2,
    }
    assert all(p.feature == "amount" for p in got.values())


def test_categorical_feature_known_answer() -> None:
    # 6 rows, 1 missing; the number 1 is a mismatch (bools are fine); as
    # canonical strings "true" and "XX" are not in [DE, FR, "1"].
    raw = pd.Series(["DE", "FR", 1, None, True, "XX"], dtype=object)
    got = by_metric(compute_feature_quality(raw, COUNTRY, feature="country"))
    assert list(got) == ["missing_share", "type_mismatch_share", "unseen_category_share"]
    assert got["missing_share"].value == pytest.approx(1 / 6)
    assert got["type_mismatch_share"].value == pytest.approx(1 / 5)
    assert got["unseen_category_share"].value == pytest.approx(2 / 5)
    assert got["unseen_category_share"].details["examples"] == {"true": 1, "XX": 1}
    assert got["unseen_category_share"].details["categories_source"] == "config"


def test_compute_quality_covers_every_declared_feature_in_order() -> None:
    frame = pd.DataFrame(
        {
            "amount": pd.Series([5, -1, None, "x", True, 15, 10], dtype=object),
            "country": pd.Series(["DE", "FR", 1, None, True, "XX", "DE"], dtype=object),
            "undeclared": range(7),
        }
    )
    points = compute_quality(frame, {"amount": AMOUNT, "country": COUNTRY})
    keyed = check_points(points)
    assert [(p.metric, p.feature) for p in points] == [
        ("missing_share", "amount"),
        ("type_mismatch_share", "amount"),
        ("out_of_range_share", "amount"),
        ("missing_share", "country"),
        ("type_mismatch_share", "country"),
        ("unseen_category_share", "country"),
    ]
    assert keyed[("unseen_category_share", "country")].value == pytest.approx(2 / 6)


# -- reference fallbacks -----------------------------------------------------------------------


def test_range_falls_back_to_the_reference_bound_by_bound() -> None:
    reference = pd.Series([2.0, 8.0, None, "junk"], dtype=object)
    only_min = FeatureSpec(type="numeric", min=0)
    got = by_metric(compute_feature_quality([1, 5, 9, -3], only_min, feature="f", reference=reference))
    point = got["out_of_range_share"]
    # [0 from config, 8 from the reference]: 9 and -3 are outside.
    assert point.value == 0.5
    assert (point.details["min"], point.details["max"]) == (0.0, 8.0)
    assert (point.details["min_source"], point.details["max_source"]) == ("config", "reference")


def test_range_without_config_or_reference_is_nan_with_the_fix() -> None:
    got = by_metric(compute_feature_quality([1, 2], FeatureSpec(type="numeric"), feature="f"))
    assert math.isnan(got["out_of_range_share"].value)
    assert "set min/max" in got["out_of_range_share"].details["reason"]


def test_categories_fall_back_to_the_reference() -> None:
    spec = FeatureSpec(type="categorical")
    got = by_metric(
        compute_feature_quality(["DE", "IT", "IT", "FR"], spec, feature="c", reference=pd.Series(["DE", "FR", None]))
    )
    assert got["unseen_category_share"].value == 0.5
    assert got["unseen_category_share"].details["categories_source"] == "reference"
    assert got["unseen_category_share"].details["examples"] == {"IT": 2}


def test_categories_compare_canonically_with_a_typed_reference() -> None:
    # A parquet reference stores the codes as int64; the window sends "2" and 3.0.
    spec = FeatureSpec(type="categorical")
    got = by_metric(
        compute_feature_quality(["2", 3.0, "4"], spec, feature="c", reference=pd.Series([1, 2, 3], dtype="int64"))
    )
    assert got["unseen_category_share"].value == pytest.approx(1 / 3)


def test_no_known_categories_is_nan_with_the_fix() -> None:
    got = by_metric(
        compute_feature_quality(["a"], FeatureSpec(type="categorical"), feature="c", reference=pd.Series([None, None]))
    )
    assert math.isnan(got["unseen_category_share"].value)
    assert "list values" in got["unseen_category_share"].details["reason"]


# -- degenerate windows --------------------------------------------------------------------------


@pytest.mark.parametrize("spec", [AMOUNT, COUNTRY])
def test_empty_window_gives_nan_with_reason_for_every_metric(spec: FeatureSpec) -> None:
    points = compute_feature_quality([], spec, feature="f")
    check_points(points)
    assert len(points) == 3
    for point in points:
        assert math.isnan(point.value)
        assert "empty window" in point.details["reason"]


@pytest.mark.parametrize("spec", [AMOUNT, COUNTRY])
def test_all_null_column_is_fully_missing_and_the_rest_nan(spec: FeatureSpec) -> None:
    got = by_metric(compute_feature_quality([None, np.nan, None], spec, feature="f", reference=["DE", 1]))
    assert got["missing_share"].value == 1.0
    for metric in list(got)[1:]:
        assert math.isnan(got[metric].value)
        assert got[metric].details["reason"] == "all values missing"


def test_one_row() -> None:
    got = by_metric(compute_feature_quality([11], AMOUNT, feature="f"))
    assert [p.value for p in got.values()] == [0.0, 0.0, 1.0]


def test_numeric_feature_of_only_strings_has_no_range_share() -> None:
    got = by_metric(compute_feature_quality(["a", "b"], AMOUNT, feature="f"))
    assert got["type_mismatch_share"].value == 1.0
    assert math.isnan(got["out_of_range_share"].value)
    assert "type mismatches" in got["out_of_range_share"].details["reason"]


def test_absent_column_counts_as_all_missing() -> None:
    points = check_points(compute_quality(pd.DataFrame({"other": [1, 2]}), {"amount": AMOUNT}))
    missing = points[("missing_share", "amount")]
    assert missing.value == 1.0
    assert missing.details["column_absent"] is True


def test_empty_frame() -> None:
    points = compute_quality(pd.DataFrame(), {"amount": AMOUNT, "country": COUNTRY})
    check_points(points)
    assert len(points) == 6
    assert all(math.isnan(p.value) for p in points)


# -- typed dtypes behave like raw object columns ----------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "raw"),
    [
        (pd.Series([1.0, np.nan, 20.0]), [1, None, 20]),
        (pd.Series([1, None, 20], dtype="Int64"), [1, None, 20]),
        (pd.Series([True, False]), [True, False]),
        (pd.Series(["a", None], dtype="string"), ["a", None]),
        (pd.Series(["a", None, "b"], dtype="category"), ["a", None, "b"]),
    ],
)
def test_typed_columns_match_raw_object_columns(typed: pd.Series[Any], raw: list[object]) -> None:
    raw_series = pd.Series(raw, dtype=object)
    for spec in (AMOUNT, COUNTRY):
        assert compute_feature_quality(typed, spec, feature="f") == compute_feature_quality(
            raw_series, spec, feature="f"
        )
    assert value_kinds(typed).tolist() == value_kinds(raw_series).tolist()


# -- typed feature columns for drift -----------------------------------------------------------------


def test_coerce_numeric_makes_mismatches_nan() -> None:
    typed = coerce_feature(pd.Series([1, "2", True, None, 2.5, np.int64(4)], dtype=object), AMOUNT)
    assert typed.dtype == np.float64
    assert typed.tolist()[:1] + typed.tolist()[4:] == [1.0, 2.5, 4.0]
    assert typed.isna().tolist() == [False, True, True, True, False, False]


def test_coerce_categorical_makes_canonical_strings() -> None:
    typed = coerce_feature(pd.Series(["DE", 1, 1.0, False, None], dtype=object), COUNTRY)
    assert typed.tolist() == ["DE", "1", "1", "false", None]


def test_a_float_feature_is_shared_not_copied():
    """A window's numeric features are read as float64: coercing them copies nothing (every metric
    group coerces; 8 MB per million rows each) and leaves the frame they came from as it was."""
    frame = pd.DataFrame({"amount": [1.5, np.nan, 3.0]}, index=[5, 6, 7])
    typed = coerce_features(frame, {"amount": AMOUNT})
    assert np.shares_memory(typed["amount"].to_numpy(), frame["amount"].to_numpy())
    assert typed.index.tolist() == [5, 6, 7]
    typed["amount"] = typed["amount"].fillna(0.0)
    assert math.isnan(frame["amount"].iloc[1])


def test_coerce_features_keeps_the_index_and_fills_absent_features() -> None:
    frame = pd.DataFrame({"amount": [1, "x"], "extra": [0, 0]}, index=[7, 9])
    typed = coerce_features(frame, {"amount": AMOUNT, "country": COUNTRY})
    assert list(typed.columns) == ["amount", "country"]
    assert list(typed.index) == [7, 9]
    assert typed["amount"].tolist()[0] == 1.0 and math.isnan(typed["amount"].tolist()[1])
    assert typed["country"].tolist() == [None, None]


# -- FeatureSpec validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "fix"),
    [
        ({"type": "text"}, "must be 'numeric' or 'categorical'"),
        ({"type": "numeric", "min": 5, "max": 1}, "swap them"),
        ({"type": "numeric", "min": True}, "must be a finite number"),
        ({"type": "numeric", "max": float("nan")}, "must be a finite number"),
        ({"type": "numeric", "min": float("-inf")}, "must be a finite number"),
        ({"type": "numeric", "values": ["a"]}, "declare it type: categorical"),
        ({"type": "categorical", "min": 0}, "declare it type: numeric"),
        ({"type": "categorical", "values": []}, "or leave values out"),
        ({"type": "categorical", "values": "DE"}, "non-empty list"),
        ({"type": "categorical", "values": ["DE", None]}, "remove it"),
    ],
)
def test_feature_spec_rejects_bad_config_with_the_fix(kwargs: dict[str, Any], fix: str) -> None:
    with pytest.raises(MetricError, match=fix):
        FeatureSpec(**kwargs)


def test_feature_spec_categories_are_canonical() -> None:
    assert FeatureSpec(type="categorical", values=[1, 2.0, "x", True]).categories == frozenset({"1", "2", "x", "true"})


# -- vectorised classification equals the per-value definition ---------------------------------------

JSON_VALUES = st.one_of(
    st.none(),
    st.just(float("nan")),
    st.booleans(),
    st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=3),
)


def expected_kind(value: object) -> ValueKind:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ValueKind.MISSING
    if isinstance(value, bool):
        return ValueKind.BOOL
    if isinstance(value, (int, float)):
        return ValueKind.NUMBER
    return ValueKind.STRING


@given(st.lists(JSON_VALUES, max_size=30))
def test_value_kinds_match_the_per_value_definition(raw: list[object]) -> None:
    expected = [int(expected_kind(v)) for v in raw]
    assert value_kinds(pd.Series(raw, dtype=object)).tolist() == expected
    assert value_kinds(to_series(raw, name="raw")).tolist() == expected


@given(st.lists(JSON_VALUES, max_size=30))
def test_category_keys_match_category_key(raw: list[object]) -> None:
    assert category_keys(raw).tolist() == [category_key(v) for v in raw]


@given(st.lists(st.one_of(st.none(), st.floats(allow_nan=False), st.integers(-(2**31), 2**31)), max_size=30))
def test_typed_numeric_keys_match_category_key(raw: list[float | int | None]) -> None:
    typed = pd.Series(raw, dtype="float64")
    assert category_keys(typed).tolist() == [category_key(v) for v in typed.tolist()]


@pytest.mark.parametrize("module", [quality, features, categories, column])
def test_docstring_examples(module: Any) -> None:
    run_doctests(module)


CATEGORY_VALUES = st.one_of(st.none(), st.sampled_from(["DE", "FR", "US", "1", "x"]))


@given(st.lists(CATEGORY_VALUES, max_size=40), st.lists(CATEGORY_VALUES, max_size=20), st.booleans())
def test_categorical_columns_give_the_quality_of_their_values(
    raw: list[object], reference: list[object], configured: bool
) -> None:
    """Windows are read with categorical columns, counted from their codes: the same
    points, details (unseen examples and their order) included, as object columns."""
    spec = COUNTRY if configured else FeatureSpec(type="categorical")

    def categorical(values: list[object]) -> pd.Series[Any]:
        series = pd.Series(values, dtype=object).astype("category")
        return series.cat.add_categories(["never-seen"])  # a category no row uses

    plain = compute_feature_quality(pd.Series(raw, dtype=object), spec, feature="f",
                                    reference=pd.Series(reference, dtype=object))
    coded = compute_feature_quality(categorical(raw), spec, feature="f", reference=categorical(reference))
    assert repr(coded) == repr(plain)


@given(st.lists(JSON_VALUES, max_size=30))
def test_categorical_keys_keep_the_codes_and_match_category_key(raw: list[object]) -> None:
    column = pd.Series(raw, dtype=object)
    if len({type(v) for v in raw if v is not None}) > 1 or any(isinstance(v, float) and math.isnan(v) for v in raw):
        column = column.map(lambda v: v if v is None else category_key(v))  # one kind per categorical column
    keys = category_keys(column.astype("category"), keep_categorical=True)
    assert isinstance(keys.dtype, pd.CategoricalDtype)
    assert [None if isinstance(v, float) else v for v in keys.tolist()] == [category_key(v) for v in column]
