"""``models.<m>.champion``: which version challengers are compared with; checked on load."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.errors import ConfigError

TEXT = """\
models:
  fraud:
    task: binary_classification
    positive_label: 1
    champion: {champion}
"""


def _load(tmp_path: Path, champion: str):
    path = tmp_path / "driftwatch.yaml"
    path.write_text(TEXT.format(champion=champion))
    return load_config(path, environ={})


def test_the_champion_is_optional_and_kept_as_written(tmp_path):
    assert _load(tmp_path, "null").models["fraud"].champion is None
    assert _load(tmp_path, '"1.10"').models["fraud"].champion == "1.10"


@pytest.mark.parametrize(("champion", "fragment"), [
    ("1.10", "champion must be a model_version as a quoted string, got 1.1 (float); write it in quotes"),
    ("7", "got 7 (int)"),
    ('""', "champion must name a model_version of 1 to 64 characters"),
    ("x" * 65, "1 to 64 characters"),
])
def test_a_bad_champion_is_named_with_its_line_and_the_fix(tmp_path, champion, fragment):
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, champion)
    message = str(caught.value)
    assert "driftwatch.yaml:5: models.fraud.champion" in message, message
    assert fragment in message, message
