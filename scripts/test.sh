#!/usr/bin/env bash
# The whole test suite on a fresh machine: set up, then run pytest.
# Kafka and PostgreSQL are started by the tests' session fixtures (real servers).
# pytest's exit code 5 ("no tests collected") is turned into a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
.venv/bin/ruff check monitor alerts dashboard tests scripts benchmarks || exit 1
.venv/bin/python -m pytest "$@"
status=$?
if [[ $status -eq 5 ]]; then
  echo "error: pytest collected no tests" >&2
  exit 1
fi
exit $status
