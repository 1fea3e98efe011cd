"""``models.<m>.segments`` and a rule's ``segment``: accepted shapes, and one clear error per mistake."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.errors import ConfigError

CONFIG = """\
models:
  fraud:
    task: binary_classification
    positive_label: 1
    features:
      amount:  {type: numeric}
      country: {type: categorical}
      device:  {type: categorical}
    segments: [country, device]
alerts:
  rules:
    - name: drift-per-country
      model: fraud
      metric: dataset_drift_share
      segment: "country=*"
      when: "> 0.3"
"""


def _load(tmp_path: Path, text: str):
    path = tmp_path / "driftwatch.yaml"
    path.write_text(textwrap.dedent(text))
    return load_config(path, environ={})


def test_the_list_shorthand_and_the_full_form_load(tmp_path):
    config = _load(tmp_path, CONFIG)
    segments = config.models["fraud"].segments
    assert segments is not None
    assert (segments.columns, segments.max_values) == (["country", "device"], 20)
    assert config.alerts.rules[0].segment == "country=*"
    full = CONFIG.replace("segments: [country, device]", "segments: {columns: [country], max_values: 5}")
    segments = _load(tmp_path, full).models["fraud"].segments
    assert segments is not None and (segments.columns, segments.max_values) == (["country"], 5)
    # No segments: None, and the whole model only.
    plain = CONFIG.replace("    segments: [country, device]\n", "").replace('      segment: "country=*"\n', "")
    assert _load(tmp_path, plain).models["fraud"].segments is None


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("segments: [country, device]", "segments: [contry]"),
         ["driftwatch.yaml:9", "models.fraud.segments.columns[0]", "segment column 'contry' is not a feature",
          "did you mean 'country'?", "declare it under features"]),
        (("segments: [country, device]", "segments: {columns: [country], max_value: 5}"),
         ["unknown key 'max_value'", "did you mean 'max_values'?"]),
        (("segments: [country, device]", "segments: {columns: [country], max_values: 0}"),
         ["models.fraud.segments.max_values", "greater than or equal to 1"]),
        (("segments: [country, device]", "segments: [country, country]"),
         ["'country' is listed twice", "list each column once"]),
        (("segments: [country, device]", "segments: []"), ["models.fraud.segments.columns", "at least 1"]),
        (("segments: [country, device]", "segments: ['country=DE']"), ["without '='"]),
        (('segment: "country=*"', 'segment: "country"'),
         ["driftwatch.yaml:15", "alerts.rules[0].segment", "must be <column>=<value> or <column>=*"]),
        (('segment: "country=*"', 'segment: "contry=*"'),
         ["alerts.rules[drift-per-country].segment", "model 'fraud' is segmented by 'contry'",
          "did you mean 'country'?", "add it to models.<model>.segments"]),
    ],
)
def test_each_segment_mistake_gives_one_clear_error(tmp_path, change, expected):
    old, new = change
    assert old in CONFIG
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, CONFIG.replace(old, new, 1))
    message = str(caught.value)
    for fragment in expected:
        assert fragment in message, message


def test_a_segment_rule_needs_a_segmented_model(tmp_path):
    unsegmented = CONFIG.replace("    segments: [country, device]\n", "").replace("model: fraud", "model: '*'")
    with pytest.raises(ConfigError, match=r"no model is segmented by 'country'.*segmented by: nothing"):
        _load(tmp_path, unsegmented)
