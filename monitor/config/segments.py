"""``models.<m>.segments``: the columns a model's vitals are also computed per value of.

Written either as a list of column names, ``segments: [country, device]``, or in full::

    segments:
      columns: [country, device]
      max_values: 20

A segment column is a feature of the prediction events. Each window is computed for
the whole model and once per value of each column (``country=DE``); at most
``max_values`` values per column get their own segment, the rest share ``__other__``
(see :mod:`monitor.metrics.segments`).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["SegmentsConfig", "parse_segment_selector"]

MAX_SEGMENT_COLUMNS = 5


class SegmentsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    columns: Annotated[list[str], Field(min_length=1, max_length=MAX_SEGMENT_COLUMNS)]
    # Values per column with their own segment (the most frequent in the reference); the rest are __other__.
    max_values: Annotated[int, Field(ge=1, le=100)] = 20

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        # `segments: [country, device]` is `segments: {columns: [country, device]}`.
        if isinstance(value, list):
            return {"columns": value}
        return value

    @field_validator("columns")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not name or "=" in name or "," in name:
                raise ValueError(f"segment column {name!r} must be a feature name without '=' or ','; "
                                 "name the feature of the events to segment by, e.g. country")
        repeated = sorted({name for name in value if value.count(name) > 1})
        if repeated:
            raise ValueError(f"segment column {repeated[0]!r} is listed twice; list each column once")
        return value


def parse_segment_selector(text: str) -> tuple[str, str]:
    """A rule's ``segment``: ``"country=DE"`` (one segment) or ``"country=*"`` (each value).

    >>> parse_segment_selector("country=DE"), parse_segment_selector(" device = * ")
    (('country', 'DE'), ('device', '*'))
    >>> parse_segment_selector("DE")
    Traceback (most recent call last):
    ...
    ValueError: segment 'DE' must be <column>=<value> or <column>=*, e.g. "country=DE" or "country=*"
    """
    column, equals, value = text.partition("=")
    column, value = column.strip(), value.strip()
    if not equals or not column or not value:
        raise ValueError(f"segment {text!r} must be <column>=<value> or <column>=*, "
                         'e.g. "country=DE" or "country=*"')
    return column, value
