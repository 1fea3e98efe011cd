"""One BLAS thread for the work that already runs its own threads.

numpy's OpenBLAS starts a worker thread per core, and after each call that worker keeps
spinning for a while waiting for the next one. The window job runs the drift tests on
a second core beside the other metric groups; every small matrix product of theirs
(a PCA projection, a calibrator, a scikit-learn check) woke the BLAS worker, which then
spun on that second core: about 1.2 s of CPU per million-row window, taken from the
drift tests. On narrow matrices one thread is as fast anyway.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from functools import cache
from typing import Any

from threadpoolctl import ThreadpoolController

__all__ = ["one_blas_thread"]


@cache
def _controller() -> ThreadpoolController:
    # Found once: finding the pools walks every loaded library (as threadpool_limits does per call).
    return ThreadpoolController()


def one_blas_thread() -> AbstractContextManager[Any]:
    """A context in which BLAS uses one thread (the whole process: BLAS keeps one setting)."""
    limited: AbstractContextManager[Any] = _controller().limit(limits=1, user_api="blas")
    return limited
