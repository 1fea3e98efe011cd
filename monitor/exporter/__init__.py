"""The Prometheus exporter: ``/metrics`` from the store (``driftwatch exporter``, ``driftwatch run``)."""
