"""Print constraints.txt: the exact versions of driftwatch's runtime dependencies and
theirs, as installed in this environment (the one the test suite ran in).

    .venv/bin/python scripts/constraints.py > constraints.txt
"""

from __future__ import annotations

from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

HEADER = """\
# Exact versions of driftwatch's runtime dependencies (and theirs), as tested.
# The Docker image installs with `pip install -c constraints.txt .`. Refresh after
# changing pyproject.toml: .venv/bin/python scripts/constraints.py > constraints.txt
"""


def _applies(requirement: Requirement, extra: str = "") -> bool:
    return requirement.marker is None or requirement.marker.evaluate({"extra": extra})


def runtime_closure(package: str = "driftwatch") -> dict[str, str]:
    """Canonical name → installed version, for ``package``'s non-extra requirements, transitively."""
    found: dict[str, str] = {}
    pending = [req for req in map(Requirement, metadata.requires(package) or []) if _applies(req)]
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        if name in found:
            continue
        try:
            dist = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            continue
        found[name] = dist.version
        for text in dist.requires or []:
            child = Requirement(text)
            if _applies(child) or any(_applies(child, extra) for extra in requirement.extras):
                pending.append(child)
    return found


def main() -> None:
    print(HEADER)
    for name, version in sorted(runtime_closure().items()):
        print(f"{name}=={version}")


if __name__ == "__main__":
    main()
