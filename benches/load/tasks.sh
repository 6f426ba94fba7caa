#!/usr/bin/env bash
# Background-task benchmark against a release `marketsim serve` with
# PostgreSQL (a fresh database per run, on 127.0.0.1 only), $RUNS times:
#
#   1. create_shares: 10,000 new symbols, each listing journaled;
#   2. update_prices: a new price for every symbol (10,005), journaled;
#   3. import_prices: a sample price file (10 symbols), which lists them;
#   4. import_orders: a sample order file of $ROWS rows (100 users, 10
#      symbols), each row an order routed and journaled.
#
# Each figure is from the POST to the task seen completed (polled every
# 10 ms), durable included; for the import also the task's own running
# time (started_at to finished_at: the upload and the file's parse left
# out) and rows/s. Prints each run, then the median and range. Stops by
# itself.
#
#   DATABASE_URL=postgres://postgres@127.0.0.1/postgres benches/load/tasks.sh
#   RUNS=5 ROWS=1000000 BIN=/tmp/other/marketsim benches/load/tasks.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-5}
ROWS=${ROWS:-1000000}
PORT=${PORT:-18091}
ADMIN=bench-admin-key-0123456789
[ -n "${DATABASE_URL:-}" ] || { echo "DATABASE_URL is needed" >&2; exit 1; }
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet --bin marketsim
  BIN=./target/release/marketsim
fi
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
"$BIN" sample prices --rows 10000 --symbols 10 --date 2026-01-05 -o "$tmp/prices.csv"
"$BIN" sample orders --rows "$ROWS" --symbols 10 --users 100 --date 2026-01-05 -o "$tmp/orders.csv"
now() { date +%s.%N; }
# wait_done ID START: seconds from START until task ID is completed.
wait_done() {
  local state
  while :; do
    state=$(curl -sf "127.0.0.1:$PORT/v1/tasks/$1" -H "authorization: Bearer $ADMIN" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
    case $state in
      completed) python3 -c "print(f'{$(now) - $2:.3f}')"; return ;;
      failed|revoked) echo "task $1 $state" >&2; exit 1 ;;
    esac
    sleep 0.01
  done
}
start_json() { # body -> id
  curl -sf -X POST "127.0.0.1:$PORT/v1/tasks" -H "authorization: Bearer $ADMIN" \
    -H 'content-type: application/json' -d "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}
start_file() { # kind file -> id
  curl -sf -X POST "127.0.0.1:$PORT/v1/tasks" -H "authorization: Bearer $ADMIN" \
    -F "kind=$1" -F "date=2026-01-05" -F "file=@$2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}
: >"$tmp/results"
for run in $(seq 1 "$RUNS"); do
  db="marketsim_tasks_$$"
  psql "$DATABASE_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
  env MARKETSIM_LOG=warn MARKETSIM_ADMIN_KEY=$ADMIN MARKETSIM_STARTING_CASH=1000000000.00 \
    MARKETSIM_REGISTRATIONS_PER_MINUTE_PER_ADDRESS=0 MARKETSIM_MAX_USERS=0 \
    MARKETSIM_TASK_UPLOAD_LIMIT_BYTES=1000000000 MARKETSIM_DATABASE_URL="${DATABASE_URL%/*}/$db" \
    "$BIN" serve --listen "127.0.0.1:$PORT" >"$tmp/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do curl -sf "127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
  for i in $(seq 1 100); do
    curl -sf -X POST "127.0.0.1:$PORT/v1/users" -H 'content-type: application/json' -d "{\"name\":\"user$i\"}" >/dev/null
  done
  t=$(now); id=$(start_json '{"kind":"create_shares","count":10000}'); create=$(wait_done "$id" "$t")
  t=$(now); id=$(start_json '{"kind":"update_prices","symbols":"all"}'); update=$(wait_done "$id" "$t")
  t=$(now); id=$(start_file import_prices "$tmp/prices.csv"); wait_done "$id" "$t" >/dev/null
  t=$(now); id=$(start_file import_orders "$tmp/orders.csv"); import=$(wait_done "$id" "$t")
  running=$(curl -sf "127.0.0.1:$PORT/v1/tasks/$id" -H "authorization: Bearer $ADMIN" | python3 -c '
import json, sys
from datetime import datetime
t = json.load(sys.stdin)
f = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
print(f"{f(t[\"finished_at\"]) - f(t[\"started_at\"]):.3f} {t[\"result\"][\"applied\"]} {t[\"result\"][\"refused\"]}")')
  read -r secs applied refused <<<"$running"
  rate=$(python3 -c "print(int($ROWS / $secs))")
  echo "run $run: create_shares 10000 ${create}s  update_prices ${update}s  import_orders $ROWS rows ${import}s (running ${secs}s: $rate rows/s; $applied placed, $refused refused)"
  echo "$create $update $import $rate" >>"$tmp/results"
  kill $pid; wait $pid 2>/dev/null || true; pid=
  psql "$DATABASE_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
done
python3 - "$tmp/results" <<'EOF'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1])]
for i, name in enumerate(["create_shares 10000 (s)", "update_prices 10005 (s)", "import_orders end to end (s)", "import_orders rows/s (running)"]):
    col = [r[i] for r in rows]
    print(f"{name}: median {statistics.median(col):g} (range {min(col):g}-{max(col):g}, {len(col)} runs)")
EOF
