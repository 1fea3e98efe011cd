#!/usr/bin/env bash
# The demo: a local Kafka, driftwatch run (ingest + scheduler + alerts), simulated
# traffic with faults injected minutes apart, a webhook receiver that prints the
# retraining calls, and the dashboard. Ctrl-C stops everything it started and exits 0.
#
# The store, the broker's data and the received webhook calls stay in $DEMO_DIR
# (default .local/demo) and the next run resumes them; DEMO_FRESH=1 (`make demo-fresh`)
# deletes them first.
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
DEMO_DIR="${DEMO_DIR:-.local/demo}"
KAFKA_DIR="$DEMO_DIR/kafka"
PY=.venv/bin/python
DW=(.venv/bin/python -m monitor.cli --config "$DEMO_DIR/driftwatch.yaml")

pids=()
cleanup() {
  trap '' INT TERM  # a second Ctrl-C does not cut the shutdown short
  trap - EXIT
  echo
  echo "==> stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [[ -d "$KAFKA_DIR" ]]; then
    $PY scripts/local_kafka.py stop --dir "$KAFKA_DIR" || true
  fi
  if [[ -f "$DEMO_DIR/driftwatch.db" ]]; then
    echo "==> stopped; the store and the webhook calls stay in $DEMO_DIR (\`make demo\` resumes them)"
  fi
}
# Ctrl-C (SIGINT to this script's process group) or SIGTERM: a clean stop is a success.
stop_on_signal() {
  cleanup
  exit 0
}
trap stop_on_signal INT TERM
trap cleanup EXIT

# Prints how many predictions the demo store holds; nothing when there is no store.
stored_predictions() {
  [[ -f "$DEMO_DIR/driftwatch.db" ]] || return 0
  $PY - "$DEMO_DIR/driftwatch.db" <<'EOF'
import sqlite3, sys
try:
    db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
    print(db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0])
except sqlite3.Error as exc:
    sys.exit(f"error: cannot read the previous demo store {sys.argv[1]} ({exc}); "
             "`make demo-fresh` (or DEMO_FRESH=1) starts over")
EOF
}

bash scripts/setup.sh --demo

if [[ "${DEMO_FRESH:-0}" == 1 ]]; then
  if [[ -e "$DEMO_DIR" ]]; then
    previous=$(stored_predictions 2>/dev/null || true)  # an unreadable store is deleted all the same
    echo "==> starting over: deleting the previous demo in $DEMO_DIR${previous:+ ($previous predictions)}"
    if [[ -d "$KAFKA_DIR" ]]; then
      $PY scripts/local_kafka.py stop --dir "$KAFKA_DIR" || true
    fi
    rm -rf "$DEMO_DIR"
  fi
else
  previous=$(stored_predictions)
  if [[ -n "$previous" ]]; then
    echo "==> resuming the demo store in $DEMO_DIR ($previous predictions); \`make demo-fresh\` or DEMO_FRESH=1 starts over"
  fi
fi
mkdir -p "$DEMO_DIR"

echo "==> starting Kafka"
if ! BOOTSTRAP=$($PY scripts/local_kafka.py start --dir "$KAFKA_DIR"); then
  echo "error: the demo's Kafka broker in $KAFKA_DIR did not start (see above); \`make demo-fresh\` starts over" >&2
  exit 1
fi
$PY - "$BOOTSTRAP" <<'EOF'
import sys
from kafka.admin import KafkaAdminClient, NewTopic
admin = KafkaAdminClient(bootstrap_servers=sys.argv[1])
missing = {"predictions", "labels"} - set(admin.list_topics())  # a resumed broker has them
if missing:
    admin.create_topics([NewTopic(name, 2, 1) for name in sorted(missing)])
admin.close()
EOF

echo "==> writing $DEMO_DIR/driftwatch.yaml and reference files"
$PY -m monitor.simulate.demo --dir "$DEMO_DIR" --bootstrap "$BOOTSTRAP" --webhook-port "$WEBHOOK_PORT" \
  --dashboard-port "$DASHBOARD_PORT" >/dev/null
"${DW[@]}" init

echo "==> starting the webhook receiver, the service, the simulator and the dashboard"
# Each in a process group of its own (job control is on while they start): Ctrl-C
# reaches only this script, whose trap then stops each of them once, in order.
set -m
$PY scripts/webhook_receiver.py --port "$WEBHOOK_PORT" --secret demo-secret --log "$DEMO_DIR/webhook.jsonl" &
pids+=($!)
"${DW[@]}" run >"$DEMO_DIR/service.log" 2>&1 &
pids+=($!)
# A new id prefix per run: a resumed store already holds the earlier runs' prediction ids.
"${DW[@]}" simulate --rate "$RATE" --duration "${DEMO_DURATION:-60m}" --scenario "$DEMO_DIR/scenario.yaml" \
  --label-delay 20s --id-prefix "run$(date -u +%Y%m%dT%H%M%S)-" >"$DEMO_DIR/simulate.log" 2>&1 &
pids+=($!)
"${DW[@]}" dashboard --port "$DASHBOARD_PORT" >"$DEMO_DIR/dashboard.log" 2>&1 &
pids+=($!)
set +m

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
echo "                      missing values, the canary), and in $DEMO_DIR/webhook.jsonl"
echo "    faults:           drift at 2m (retraining call ~2 min later), latency spike at 3m, errors at 4m, missing values at 6m, concept drift at 8m"
echo "    canary:           fraud v2-canary takes 20% of fraud's traffic from the start, worse than v1 (Versions page)"
echo "    Ctrl-C stops everything; \`make demo\` resumes this store, \`make demo-fresh\` starts over."
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
wait  # until Ctrl-C: the trap stops everything and exits 0
