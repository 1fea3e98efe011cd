"""The ``driftwatch`` command line: assembles the commands and runs them.

The commands live in ``commands_*`` and ``alerts.cli``; what they share (the app,
the global options, config loading, error exits) lives in :mod:`monitor.cli.common`.
Every command loads and validates the config first; a bad config, store URL or
input prints one clear message and exits with code 2, and nothing starts.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys

from alerts.cli import alerts_app
from monitor.cli import (  # noqa: F401  (each module registers its commands on `app`)
    commands_compute,
    commands_dashboard,
    commands_estimate,
    commands_exporter,
    commands_run,
    commands_service,
    commands_simulate,
)
from monitor.cli.common import app, err, print_error
from monitor.cli.help_format import plain_flags
from monitor.errors import DriftwatchError

__all__ = ["app", "main"]

# `driftwatch alerts ...` lives with the alerting package; monitor never imports
# alerts at module level, only this assembly of the CLI wires the two together.
app.add_typer(alerts_app, name="alerts")
plain_flags()


def main() -> None:
    """Console-script entry point: DriftwatchError → one clear message, exit code 2.

    Usage errors exit 2 through click's standalone mode.
    """
    code: int | str | None = 0
    try:
        app()
    except DriftwatchError as exc:
        print_error(exc)
        code = 2
    except SystemExit as exc:
        code = exc.code
    _exit(code)


def _exit(code: int | str | None) -> None:
    """Flush, then leave without interpreter teardown.

    pyarrow's native thread pools can abort the process while Python tears down
    (``terminate called without an active exception``, exit -6: apache/arrow#34314),
    turning a finished command's exit code into a crash. Every command has finished
    its work and stopped its own threads by now, so nothing is lost by skipping it.
    """
    if isinstance(code, str):
        err.print(code, highlight=False, soft_wrap=True)
        code = 1
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing to flush into
            stream.flush()
    os._exit(code or 0)
