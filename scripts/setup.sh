#!/usr/bin/env bash
# Sets up everything driftwatch needs on a fresh Debian machine, idempotently:
# system packages (Java + Maven for the local Kafka, PostgreSQL for tests,
# Chromium for browser tests, Prometheus for the exporter's tests), a virtualenv with the project and its test
# extras, and the Kafka jars from Maven Central.
#   scripts/setup.sh            # everything for the tests
#   scripts/setup.sh --demo     # only what the demo needs (no PostgreSQL/Chromium)
set -euo pipefail
cd "$(dirname "$0")/.."

DEMO_ONLY=0
[[ "${1:-}" == "--demo" ]] && DEMO_ONLY=1
PYTHON="${PYTHON:-python3}"

need_apt=()
command -v java >/dev/null 2>&1 || need_apt+=(default-jre-headless)
command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
if [[ $DEMO_ONLY == 0 ]]; then
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
  command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
  command -v runuser >/dev/null 2>&1 || need_apt+=(util-linux)
  command -v docker-compose >/dev/null 2>&1 || need_apt+=(docker-compose)  # validates docker-compose.yml
  # The exporter's tests scrape with a real Prometheus (their own instance) and check deploy/prometheus with promtool.
  command -v prometheus >/dev/null 2>&1 || need_apt+=(prometheus)
fi
"$PYTHON" -c "import venv, ensurepip" >/dev/null 2>&1 || need_apt+=(python3-venv)

if (( ${#need_apt[@]} )); then
  echo "==> installing system packages: ${need_apt[*]}"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need_apt[@]}"
fi

if [[ ! -x .venv/bin/python ]]; then
  echo "==> creating .venv"
  "$PYTHON" -m venv .venv
fi
# constraints.txt pins the runtime closure the suite was run with (the image uses it too),
# so a new release on PyPI cannot change what the tests see.
echo "==> installing driftwatch and its dependencies into .venv (pinned by constraints.txt)"
.venv/bin/python -m pip install -q --upgrade pip
if [[ $DEMO_ONLY == 1 ]]; then
  .venv/bin/python -m pip install -q -c constraints.txt -e .
else
  .venv/bin/python -m pip install -q -c constraints.txt -e ".[test]"
fi

echo "==> fetching Apache Kafka from Maven Central (cached)"
.venv/bin/python scripts/local_kafka.py fetch >/dev/null
echo "==> setup done"
