"""driftwatch core: ingestion, store, metrics, scheduled jobs, config and CLI."""

__version__ = "0.1.0"
