"""monitor/jobs."""
