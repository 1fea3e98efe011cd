"""What every benchmark side measures about its own process: CPU seconds and peak memory."""

from __future__ import annotations

import resource
from pathlib import Path

__all__ = ["cpu_seconds", "peak_mb"]


def cpu_seconds() -> float:
    """User + system CPU time of this process so far (every thread)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_mb() -> float:
    """This process's peak resident memory (VmHWM; ru_maxrss would include the parent's before exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
