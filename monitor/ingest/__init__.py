"""monitor/ingest."""
