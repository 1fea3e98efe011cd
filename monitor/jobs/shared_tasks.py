"""Tasks two threads work through together: one posts them and works from the front, another helps from the back.

The window job's data-drift tests are one task per feature. They run on the second core,
queued first; the main thread, once done with the groups that read labels and whatever
queued groups the second core has not begun, helps with the features left, so both cores
finish together. Each task's result lands at its own index, so the results are the same
whichever thread ran which task.

>>> from concurrent.futures import ThreadPoolExecutor
>>> shared = SharedTasks()
>>> with ThreadPoolExecutor(1) as pool:
...     future = pool.submit(shared.run, [lambda i=i: i * i for i in range(6)])
...     shared.help()
...     future.result()
[0, 1, 4, 9, 16, 25]
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

__all__ = ["SharedTasks"]

T = TypeVar("T")


class SharedTasks(Generic[T]):
    """One :meth:`run` (the owner), any number of :meth:`help` calls from other threads."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._pending: deque[tuple[int, Callable[[], T]]] = deque()
        self._results: list[Any] = []
        self._errors: dict[int, BaseException] = {}
        self._left = 0
        self._posted = False

    def run(self, tasks: Sequence[Callable[[], T]]) -> list[T]:
        """Run ``tasks`` with any helpers; their results in order (the first failure, by index, is raised)."""
        with self._changed:
            self._pending.extend(enumerate(tasks))
            self._results = [None] * len(tasks)
            self._left = len(tasks)
            self._posted = True
            self._changed.notify_all()
        self._work(front=True)
        with self._changed:
            self._changed.wait_for(lambda: self._left == 0)
        if self._errors:
            raise self._errors[min(self._errors)]
        return list(self._results)

    def close(self) -> None:
        """No tasks will be posted (the owner ended without :meth:`run`): helpers stop waiting."""
        with self._changed:
            self._posted = True
            self._changed.notify_all()

    def help(self) -> None:
        """Wait until the tasks are posted (or :meth:`close`), then run tasks from the back until none is left."""
        with self._changed:
            self._changed.wait_for(lambda: self._posted)
        self._work(front=False)

    def _work(self, *, front: bool) -> None:
        while True:
            with self._changed:
                if not self._pending:
                    return
                index, task = self._pending.popleft() if front else self._pending.pop()
            try:
                result: Any = task()
            except BaseException as exc:  # noqa: BLE001 - raised by run(), in the owner's thread
                with self._changed:
                    self._errors[index] = exc
            else:
                self._results[index] = result
            with self._changed:
                self._left -= 1
                self._changed.notify_all()
