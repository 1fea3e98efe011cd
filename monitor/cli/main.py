"""The ``driftwatch`` command line.

Every command loads and validates the config first; a bad config, store URL or
input prints one clear message and exits with code 2, and nothing starts.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console

from monitor import __version__
from monitor.config import DriftwatchConfig, load_config
from monitor.errors import DriftwatchError
from monitor.logs import configure_logging

__all__ = ["app", "main", "config_option", "load_context_config", "install_stop_signals"]

app = typer.Typer(
    name="driftwatch",
    help="Keeps machine-learning models healthy in production.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)

_state: dict[str, Path | None] = {"config": None}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"driftwatch {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Config file (default: $DRIFTWATCH_CONFIG, then ./driftwatch.yaml)."),
    ] = None,
    log_level: Annotated[str | None, typer.Option("--log-level", help="DEBUG, INFO, WARNING, ERROR")] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True)] = False,
) -> None:
    _state["config"] = config
    configure_logging(log_level)


def load_context_config() -> DriftwatchConfig:
    """The config chosen by ``--config`` / ``DRIFTWATCH_CONFIG`` / ``./driftwatch.yaml``; none is an error."""
    return load_config(_state["config"], require_file=True)


def config_option() -> Path | None:
    """The ``--config`` given, if any."""
    return _state["config"]


def install_stop_signals(stop: threading.Event) -> None:
    """SIGTERM and SIGINT ask the service to finish its batch and exit 0."""

    def _handler(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():  # a second Ctrl-C means "now"
            raise SystemExit(130)
        # Set from another thread: the handler interrupts the main thread anywhere,
        # possibly inside this very Event's lock (Event.set there would deadlock).
        threading.Thread(target=stop.set, name="driftwatch-stop", daemon=True).start()

    signal.signal(signal.SIGTERM, _handler)
    signal.signal(signal.SIGINT, _handler)


def _register_commands() -> None:
    # Imported here so each command module can import `app` helpers from this one.
    # `driftwatch alerts ...` lives with the alerting package; monitor never imports
    # alerts at module level, only the CLI wires the two together here.
    from alerts.cli import alerts_app
    from monitor.cli import (  # noqa: F401
        commands_compute,
        commands_dashboard,
        commands_estimate,
        commands_exporter,
        commands_run,
        commands_service,
        commands_simulate,
    )
    from monitor.cli.help_format import plain_flags

    plain_flags()

    if not any(group.name == "alerts" for group in app.registered_groups):
        app.add_typer(alerts_app, name="alerts")


def main() -> None:
    """Console-script entry point: DriftwatchError → one clear message, exit code 2.

    Usage errors exit 2 through click's standalone mode.
    """
    _register_commands()
    code: int | str | None = 0
    try:
        app()
    except DriftwatchError as exc:
        err.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False, soft_wrap=True)
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
