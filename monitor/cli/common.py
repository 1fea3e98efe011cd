"""What every ``driftwatch`` command shares: the typer app, the global options, the
config they choose, the stop signals and the one way an error ends a command.

The command modules (``commands_*``, ``alerts.cli``) import from here and never
from :mod:`monitor.cli.main`, which only assembles them: no module of the CLI
imports one that imports it back.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from monitor import __version__
from monitor.config import DriftwatchConfig, load_config
from monitor.errors import DriftwatchError
from monitor.logs import configure_logging

__all__ = ["app", "err", "config_option", "exit_on_errors", "install_stop_signals", "load_context_config",
           "print_error"]

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


def print_error(exc: DriftwatchError | str) -> None:
    """``error: …`` on stderr; the message is plain text, never rich markup."""
    err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)


@contextmanager
def exit_on_errors() -> Iterator[None]:
    """A :class:`DriftwatchError` inside ends the command: one clear message, exit code 2."""
    try:
        yield
    except DriftwatchError as exc:
        print_error(exc)
        raise typer.Exit(2) from None
