"""monitor/cli."""
