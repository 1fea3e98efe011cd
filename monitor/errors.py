"""The driftwatch exception hierarchy.

Every error raised on purpose by driftwatch derives from :class:`DriftwatchError`,
and its message says what was wrong, where, and what to do about it. Third-party
errors are translated at the edge with ``raise ... from exc``.
"""

from __future__ import annotations

__all__ = [
    "DriftwatchError",
    "ConfigError",
    "StoreError",
    "StoreUnavailableError",
    "BrokerUnavailableError",
    "MetricError",
    "ReferenceDataError",
    "InputFileError",
]


class DriftwatchError(Exception):
    """Root of every error driftwatch raises on purpose."""


class ConfigError(DriftwatchError):
    """The configuration file or environment is invalid; nothing was started."""


class StoreError(DriftwatchError):
    """The store rejected an operation (schema missing, constraint, bad URL)."""


class StoreUnavailableError(StoreError):
    """The store cannot be reached right now; the operation may be retried."""


class BrokerUnavailableError(DriftwatchError):
    """The Kafka broker cannot be reached right now; the operation may be retried."""


class MetricError(DriftwatchError):
    """A statistic was asked for with invalid parameters (the message says the fix)."""


class ReferenceDataError(DriftwatchError):
    """The reference (baseline) data for a model is missing or unusable."""


class InputFileError(DriftwatchError):
    """A data file given on the command line cannot be read or has the wrong shape."""
