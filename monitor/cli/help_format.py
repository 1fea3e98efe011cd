"""Help-screen fixes shared by every command.

Typer's rich help shows a type for every option, so a boolean flag read
``--json <bool>`` as if it took a value. A flag takes none: its type column is left
empty, as click's plain help does.
"""

from __future__ import annotations

from typing import Any

import typer.core

__all__ = ["plain_flags"]

_original = typer.core.TyperOption.display_type_rich


def _display_type_rich(self: typer.core.TyperOption, ctx: Any) -> str | None:
    if self.is_flag or self.count:
        return None  # --json, --all, --help: no value to show
    return _original(self, ctx)


def plain_flags() -> None:
    """Show boolean flags without a value placeholder in every help screen (idempotent)."""
    typer.core.TyperOption.display_type_rich = _display_type_rich  # type: ignore[method-assign]
