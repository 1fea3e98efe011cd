#!/usr/bin/env bash
# The whole test suite on a fresh machine: set up, lint and type-check, then run pytest.
# Kafka and PostgreSQL are started by the tests' session fixtures (real servers).
# pytest's exit code 5 ("no tests collected") is turned into a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
.venv/bin/ruff check monitor alerts dashboard tests scripts benchmarks || exit 1
.venv/bin/mypy monitor alerts dashboard || exit 1
# Two workers: most tests wait on real servers (Kafka, PostgreSQL, paced streams),
# so two halve the wall time even on two cores. Each worker starts its own servers.
# Tests go out one at a time, longest first (tests/conftest.py orders them): xdist's
# default hands each worker a chunk of consecutive tests, which put every minute-long
# test on one worker.
.venv/bin/python -m pytest -n "${DRIFTWATCH_TEST_WORKERS:-2}" --maxschedchunk 1 "$@"
status=$?
if [[ $status -eq 5 ]]; then
  echo "error: pytest collected no tests" >&2
  exit 1
fi
exit $status
