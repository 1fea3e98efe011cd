"""A dispatcher in its own process, for the kill tests.

    python tests/alerts/dispatcher_process.py STORE_URL CONFIG_JSON

Runs :class:`alerts.dispatcher.Dispatcher` on the real clock with short backoff
and lease until SIGTERM (exit 0); the tests SIGKILL it mid-retry.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from datetime import timedelta

from alerts.backoff import Backoff
from alerts.channels.config import build_channels
from alerts.dispatcher import Dispatcher
from monitor.config.loader import config_from_mapping
from monitor.logs import configure_logging
from monitor.store.engine import create_store_engine


def main() -> None:
    store_url, config_json = sys.argv[1], sys.argv[2]
    configure_logging("INFO")
    config = config_from_mapping(json.loads(config_json), environ={})
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    dispatcher = Dispatcher(
        create_store_engine(store_url),
        config,
        build_channels(config.alerts),
        backoff=Backoff(base=0.1, factor=2, cap=0.4),
        lease=timedelta(seconds=2),
        poll_interval=0.05,
    )
    print("dispatcher ready", flush=True)
    dispatcher.run(stop)


if __name__ == "__main__":
    main()
