"""Printing tables for people and for pipes."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

__all__ = ["print_table"]

_PIPE_WIDTH = 400


def print_table(console: Console, table: Table) -> None:
    """A terminal gets the table at its width; a pipe or file gets whole values.

    Off a terminal rich assumes 80 columns and would cut rule names and times short,
    which breaks ``driftwatch alerts list | grep fraud``.
    """
    if console.is_terminal:
        console.print(table)
        return
    # Console.print(width=...) can only narrow, so a wide console of its own.
    Console(file=console.file, width=_PIPE_WIDTH, color_system=None, highlight=False).print(table)
