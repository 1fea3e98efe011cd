"""The CLI's modules import each other without a circle.

Every import counts, also one inside a function: a circle hidden in a function
still means no module of it can be read (or imported first) on its own.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CLI_FILES = [*sorted((ROOT / "monitor" / "cli").glob("*.py")), ROOT / "alerts" / "cli.py"]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """Modules of ``known`` that ``path`` imports anywhere (``from pkg import mod`` included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found & known - {module_name(path)}


def import_graph() -> dict[str, set[str]]:
    known = {module_name(path) for path in CLI_FILES}
    return {module_name(path): imported_modules(path, known) for path in CLI_FILES}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of ``graph`` as its path (first module repeated at the end), or None.

    >>> find_cycle({"a": {"b"}, "b": {"a"}})
    ['a', 'b', 'a']
    >>> find_cycle({"a": {"b"}, "b": set()}) is None
    True
    """
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node):], node]
        if node in done:
            return None
        for target in sorted(graph.get(node, ())):
            if (cycle := visit(target, [*path, node])) is not None:
                return cycle
        done.add(node)
        return None

    for start in sorted(graph):
        if (cycle := visit(start, [])) is not None:
            return cycle
    return None


def test_the_graph_sees_the_command_modules() -> None:
    graph = import_graph()
    assert "monitor.cli.common" in graph["monitor.cli.commands_compute"]
    assert {"alerts.cli", "monitor.cli.commands_run"} <= graph["monitor.cli.main"]


def test_no_module_of_the_cli_imports_one_that_imports_it_back() -> None:
    assert find_cycle(import_graph()) is None


@pytest.mark.parametrize("module", ["alerts.cli", "monitor.cli.commands_run", "monitor.cli.main"])
def test_each_module_imports_first_in_a_fresh_interpreter_and_main_has_every_command(module: str) -> None:
    """Importing ``monitor.cli.main`` alone gives the whole CLI, ``alerts`` included."""
    script = (f"import {module}; from monitor.cli.main import app; "
              "print(sorted(c.name or c.callback.__name__ for c in app.registered_commands), "
              "[g.name for g in app.registered_groups])")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "'ingest'" in result.stdout and "'dashboard'" in result.stdout and "['alerts']" in result.stdout
