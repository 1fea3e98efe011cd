"""Ingestion's own counters in this process, for the Prometheus exporter.

Every :class:`~monitor.ingest.consumer.IngestService` running in this process (and, with
``ingest.workers: N``, every worker process it supervises, through shared memory) adds
its counts here: messages consumed, dead letters stored, store outages it paused for,
and whether it is paused right now. ``driftwatch run`` serves them on ``/metrics``
(``driftwatch_ingest_*``); a process that ingests nothing reports none.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Final

__all__ = ["FIELDS", "IngestCounters", "INGEST_COUNTERS"]

# The counts exported: ``paused`` is a gauge (ingestion paused for a store outage now), the rest are totals.
FIELDS: Final = ("messages", "dead_letters", "store_outages", "paused")

Reading = Callable[[], Mapping[str, float]]


class IngestCounters:
    """The sum of the registered sources; a source that ends keeps its totals (not ``paused``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sources: dict[int, Reading] = {}
        self._retired = dict.fromkeys(FIELDS, 0.0)
        self._next = 0

    def register(self, read: Reading) -> int:
        with self._lock:
            self._next += 1
            self._sources[self._next] = read
            return self._next

    def retire(self, token: int) -> None:
        with self._lock:
            read = self._sources.pop(token, None)
            if read is not None:
                final = read()
                for name in FIELDS:
                    if name != "paused":
                        self._retired[name] += float(final.get(name, 0.0))

    def totals(self) -> dict[str, float] | None:
        """The counts, or None when no ingestion ever ran in this process."""
        with self._lock:
            if not self._sources and self._next == 0:
                return None
            totals = dict(self._retired)
            for read in self._sources.values():
                reading = read()
                for name in FIELDS:
                    totals[name] += float(reading.get(name, 0.0))
            return totals


INGEST_COUNTERS: Final = IngestCounters()
