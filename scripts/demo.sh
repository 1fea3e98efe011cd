#!/usr/bin/env bash
# The demo: a local Kafka, driftwatch run (ingest + scheduler + alerts), simulated
# traffic with faults injected minutes apart, a webhook receiver that prints the
# retraining calls, and the dashboard. Ctrl-C stops everything it started.
#
#   scripts/demo.sh                 # until Ctrl-C
#   scripts/demo.sh --short 90      # CI mode: run 90 s, check it works, stop cleanly
set -euo pipefail
cd "$(dirname "$0")/.."

SHORT=0
if [[ "${1:-}" == "--short" ]]; then
  SHORT="${2:-90}"
fi
DASHBOARD_PORT="${DASHBOARD_PORT:-8501}"
WEBHOOK_PORT="${WEBHOOK_PORT:-9099}"
RATE="${RATE:-200}"
DEMO_DIR=".local/demo"
KAFKA_DIR=".local/kafka"
PY=.venv/bin/python
DW=(.venv/bin/python -m monitor.cli --config "$DEMO_DIR/driftwatch.yaml")

bash scripts/setup.sh --demo

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "==> stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  $PY scripts/local_kafka.py stop --dir "$KAFKA_DIR" || true
}
trap cleanup INT TERM EXIT

echo "==> starting Kafka"
rm -rf "$DEMO_DIR"
mkdir -p "$DEMO_DIR"
BOOTSTRAP=$($PY scripts/local_kafka.py start --dir "$KAFKA_DIR" --fresh)
$PY - "$BOOTSTRAP" <<'EOF'
import sys
from kafka.admin import KafkaAdminClient, NewTopic
admin = KafkaAdminClient(bootstrap_servers=sys.argv[1])
existing = set(admin.list_topics())
admin.create_topics([NewTopic(t, 2, 1) for t in ("predictions", "labels") if t not in existing])
admin.close()
EOF

echo "==> writing $DEMO_DIR/driftwatch.yaml and reference files"
$PY -m monitor.simulate.demo --dir "$DEMO_DIR" --bootstrap "$BOOTSTRAP" --webhook-port "$WEBHOOK_PORT" \
  --dashboard-port "$DASHBOARD_PORT" >/dev/null
"${DW[@]}" init

echo "==> starting the webhook receiver, the service, the simulator and the dashboard"
$PY scripts/webhook_receiver.py --port "$WEBHOOK_PORT" --secret demo-secret --log "$DEMO_DIR/webhook.jsonl" &
pids+=($!)
"${DW[@]}" run >"$DEMO_DIR/service.log" 2>&1 &
pids+=($!)
"${DW[@]}" simulate --rate "$RATE" --duration "${DEMO_DURATION:-60m}" --scenario "$DEMO_DIR/scenario.yaml" \
  --label-delay 20s >"$DEMO_DIR/simulate.log" 2>&1 &
pids+=($!)
"${DW[@]}" dashboard --port "$DASHBOARD_PORT" >"$DEMO_DIR/dashboard.log" 2>&1 &
pids+=($!)

for _ in $(seq 1 120); do
  if $PY -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$DASHBOARD_PORT/_stcore/health', timeout=2)" 2>/dev/null; then
    break
  fi
  sleep 1
done
echo
echo "    dashboard:        http://127.0.0.1:$DASHBOARD_PORT"
echo "    service log:      $DEMO_DIR/service.log"
echo "    webhook calls:    printed below as [retrain] (drift) and [oncall] (latency, errors,"
echo "                      missing values), and in $DEMO_DIR/webhook.jsonl"
echo "    faults:           drift at 2m (retraining call ~2 min later), latency spike at 3m, errors at 4m, missing values at 6m, concept drift at 8m"
echo "    Ctrl-C stops everything."
if [[ "$SHORT" == 0 && ( -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" || "$(uname)" == Darwin ) ]]; then
  $PY -m webbrowser -t "http://127.0.0.1:$DASHBOARD_PORT" >/dev/null 2>&1 || true  # a desktop: open it
fi
echo

if [[ "$SHORT" != "0" ]]; then
  sleep "$SHORT"
  $PY - "$DEMO_DIR" "$DASHBOARD_PORT" <<'EOF'
import sqlite3, sys, urllib.request
directory, port = sys.argv[1], sys.argv[2]
urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=5).read()
db = sqlite3.connect(f"file:{directory}/driftwatch.db?mode=ro", uri=True)
predictions = db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
metrics = db.execute("SELECT COUNT(*) FROM metric_values").fetchone()[0]
print(f"demo check: dashboard healthy, {predictions} predictions stored, {metrics} metric values computed")
sys.exit(0 if predictions > 0 and metrics > 0 else 1)
EOF
  exit $?
fi
wait
