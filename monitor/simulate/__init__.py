"""Traffic simulator for demos and end-to-end tests."""
