"""Log output: kafka-python's "blocking the event loop" noise is debug-only, its other
warnings (and everyone else's) still show."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterator

import kafka.net.selector
import pytest

from monitor.logs import configure_logging

SLOW_STEP = "Task %r ran for %.3fs (>%.3fs threshold). It is blocking the event loop -- likely a tight sync loop"


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    selector = logging.getLogger(kafka.net.selector.__name__)
    saved = (list(root.handlers), root.level, list(selector.filters), logging.getLogger("kafka").level)
    yield
    root.handlers, root.level = saved[0], saved[1]
    selector.filters = saved[2]
    logging.getLogger("kafka").setLevel(saved[3])


def test_kafka_event_loop_warnings_are_debug_and_other_warnings_stay(restored_logging, capsys):
    # The text this filter looks for is the one the installed kafka-python logs.
    assert "blocking the event loop" in inspect.getsource(kafka.net.selector)
    selector = logging.getLogger(kafka.net.selector.__name__)

    configure_logging("INFO")
    configure_logging("INFO")  # idempotent: one filter, not two
    selector.warning(SLOW_STEP, "<Task poll>", 0.25, 0.1)
    selector.warning("Task %s left RUNNING after step; demoting to UNSCHEDULED", "<Task poll>")
    logging.getLogger("driftwatch.ingest").warning("store unavailable")
    shown = capsys.readouterr().err
    assert "blocking the event loop" not in shown
    assert "warning kafka.net.selector: Task <Task poll> left RUNNING" in shown
    assert "warning driftwatch.ingest: store unavailable" in shown

    configure_logging("DEBUG")
    selector.warning(SLOW_STEP, "<Task poll>", 0.25, 0.1)
    [line] = capsys.readouterr().err.splitlines()
    assert "debug   kafka.net.selector: Task '<Task poll>' ran for 0.250s" in line
