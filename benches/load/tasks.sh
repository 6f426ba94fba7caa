#!/usr/bin/env bash
# Background-task benchmark against a release `marketsim serve` with
# PostgreSQL (a fresh database per run, on 127.0.0.1 only), $RUNS times:
#
#   1. create_shares: 10,000 new symbols, each listing journaled;
#   2. update_prices: a new price for every symbol (10,005), journaled;
#   3. import_prices: a sample price file (10 symbols), which lists them;
#   4. import_orders: a sample order file of $ROWS rows (100 users, 10
#      symbols, each user holding $HOLD shares of each symbol first, bought
#      from the listings' floats), each row an order routed, matched,
#      settled and journaled, paused once after 2 s (the pause's answer
#      timed) and resumed; the trades it made are counted;
#   5. export: once the checkpoint has caught up with the journal (how
#      long after the import's end is reported), every order (the admin's export task, from PostgreSQL
#      through a cursor), then the file downloaded; the server's resident
#      memory is sampled every 50 ms meanwhile (growth over the export).
#
# create_shares and update_prices run on a fresh market, the rest on
# another. Their figure is the task's own, by the server's clock: from its
# creation (the request in) to its completion, durable included. The
# import is also timed from the POST (the upload and the file's parse
# included) and by its running time (started_at to finished_at) for
# rows/s; the export by its task's running time. Prints each run, then the
# median and range. Stops by itself.
#
#   DATABASE_URL=postgres://postgres@127.0.0.1/postgres benches/load/tasks.sh
#   RUNS=5 ROWS=1000000 BIN=/tmp/other/marketsim benches/load/tasks.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-5}
ROWS=${ROWS:-1000000}
HOLD=${HOLD:-30000}
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
trades() { curl -sf "127.0.0.1:$PORT/metrics" | awk '/^marketsim_trades_total /{print $2}' | head -1; }
db="marketsim_tasks_$$"
start_server() {
  psql "$DATABASE_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
  env MARKETSIM_LOG=warn MARKETSIM_ADMIN_KEY=$ADMIN MARKETSIM_STARTING_CASH=1000000000.00 \
    MARKETSIM_REGISTRATIONS_PER_MINUTE_PER_ADDRESS=0 MARKETSIM_MAX_USERS=0 \
    MARKETSIM_TASK_UPLOAD_LIMIT_BYTES=1000000000 MARKETSIM_DATABASE_URL="${DATABASE_URL%/*}/$db" \
    "$BIN" serve --listen "127.0.0.1:$PORT" >"$tmp/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do curl -sf "127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
}
stop_server() {
  kill $pid; wait $pid 2>/dev/null || true; pid=
  psql "$DATABASE_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
}
# took ID: the task's own time from its creation (the request's arrival)
# to its completion, by the server's clock.
# took ID [FIELD]: from FIELD (default created_at) to finished_at.
took() {
  curl -sf "127.0.0.1:$PORT/v1/tasks/$1" -H "authorization: Bearer $ADMIN" | python3 -c '
import json, sys
from datetime import datetime
t = json.load(sys.stdin)
f = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
print("%.3f" % (f(t["finished_at"]) - f(t[sys.argv[1]])))' "${2:-created_at}"
}
# wait_done ID START: seconds from START until task ID is seen completed.
# Polls every 50 ms: at 10 ms the polling (a curl, a grep and a cut each
# time) took about 15% of the two cores the server shares with it.
wait_done() {
  local state
  while :; do
    state=$(curl -sf "127.0.0.1:$PORT/v1/tasks/$1" -H "authorization: Bearer $ADMIN" | grep -o '"state":"[a-z]*"' | cut -d'"' -f4)
    case $state in
      completed) python3 -c "print(f'{$(now) - $2:.3f}')"; return ;;
      failed|revoked) echo "task $1 $state" >&2; exit 1 ;;
    esac
    sleep 0.05
  done
}
start_json() { # body -> id
  curl -sf -X POST "127.0.0.1:$PORT/v1/tasks" -H "authorization: Bearer $ADMIN" \
    -H 'content-type: application/json' -d "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}
start_file() { # kind file [more -F parts] -> id
  local kind=$1 file=$2; shift 2
  curl -sf -X POST "127.0.0.1:$PORT/v1/tasks" -H "authorization: Bearer $ADMIN" \
    -F "kind=$kind" "$@" -F "file=@$file" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}
: >"$tmp/results"
for run in $(seq 1 "$RUNS"); do
  # Listings and prices on a market of their own (its walk moves every
  # symbol every 500 ms, the 10,000 new ones too, as a live market does).
  start_server
  id=$(start_json '{"kind":"create_shares","count":10000}'); wait_done "$id" "$(now)" >/dev/null; create=$(took "$id")
  id=$(start_json '{"kind":"update_prices","symbols":"all"}'); wait_done "$id" "$(now)" >/dev/null; update=$(took "$id")
  stop_server
  # The import and the export on another: 5 demo symbols and the file's 10.
  start_server
  for i in $(seq 1 100); do
    curl -sf -X POST "127.0.0.1:$PORT/v1/users" -H 'content-type: application/json' -d "{\"name\":\"user$i\"}" >/dev/null
  done
  # Every user holds shares of every symbol before the import, so that its
  # sells can trade: the file's 10 symbols are listed at the price file's
  # first prices with $HOLD shares per user, and each user buys its part
  # from the house in one import of 1,000 rows (not timed).
  python3 - "$tmp/prices.csv" "$HOLD" "$tmp/holdings.csv" <<'PY' |
import csv, sys
first = {}
for row in csv.DictReader(open(sys.argv[1])):
    first.setdefault(row["Stock"], row["Price"])
hold = int(sys.argv[2])
with open(sys.argv[3], "w") as f:
    f.write("time,user,symbol,side,type,quantity,limit_price\n")
    for s, p in sorted(first.items()):
        print(s, p)
        for u in range(1, 101):
            f.write(f"2026-01-05T09:00:00Z,user{u},{s},buy,limit,{hold},{p}\n")
PY
  while read -r s p; do
    curl -sf -X POST "127.0.0.1:$PORT/v1/admin/stocks" -H "authorization: Bearer $ADMIN" \
      -H 'content-type: application/json' -d "{\"symbol\":\"$s\",\"initial_price\":\"$p\",\"float\":$((HOLD * 100))}" >/dev/null
  done
  id=$(start_file import_orders "$tmp/holdings.csv"); wait_done "$id" "$(now)" >/dev/null
  t=$(now); id=$(start_file import_prices "$tmp/prices.csv" -F date=2026-01-05); wait_done "$id" "$t" >/dev/null
  trades0=$(trades)
  t=$(now); id=$(start_file import_orders "$tmp/orders.csv")
  # A pause mid-import: answered once the step in hand ended and the
  # pause is durable; then resumed.
  sleep 2
  p0=$(now)
  curl -sf -X POST "127.0.0.1:$PORT/v1/tasks/$id/pause" -H "authorization: Bearer $ADMIN" | grep -q '"state":"paused"'
  pause_ms=$(python3 -c "print(int(($(now) - $p0) * 1000))")
  curl -sf -X POST "127.0.0.1:$PORT/v1/tasks/$id/resume" -H "authorization: Bearer $ADMIN" >/dev/null
  import=$(wait_done "$id" "$t")
  secs=$(took "$id" started_at)
  read -r applied refused < <(curl -sf "127.0.0.1:$PORT/v1/tasks/$id" -H "authorization: Bearer $ADMIN" |
    python3 -c 'import json,sys; r = json.load(sys.stdin)["result"]; print(r["applied"], r["refused"])')
  rate=$(python3 -c "print(int($ROWS / $secs))")
  made=$(python3 -c "print(int($(trades) - $trades0))")
  # Orders and trades exports read the checkpointed tables and wait for
  # the checkpoint to reach the journal's end: wait for it here, so that
  # the export's figure is its own, and report how far behind it was.
  t=$(now)
  q="SELECT (SELECT seq FROM checkpoint) >= coalesce((SELECT seq + facts - 1 FROM journal ORDER BY seq DESC LIMIT 1), 0)"
  for _ in $(seq 1 2400); do # at most 2 minutes
    [ "$(psql "${DATABASE_URL%/*}/$db" -qtAc "$q")" = t ] && break
    sleep 0.05
  done
  lag=$(python3 -c "print(f'{$(now) - $t:.3f}')")
  rss() { awk '/VmRSS/{print $2}' "/proc/$pid/status"; }
  before=$(rss)
  (while kill -0 $pid 2>/dev/null; do rss; sleep 0.05; done) >"$tmp/rss" &
  sampler=$!
  id=$(start_json '{"kind":"export","what":"orders"}'); wait_done "$id" "$(now)" >/dev/null
  export=$(took "$id" started_at)
  t=$(now); curl -sf "127.0.0.1:$PORT/v1/tasks/$id/file" -H "authorization: Bearer $ADMIN" -o "$tmp/export.csv"
  download=$(python3 -c "print(f'{$(now) - $t:.3f}')")
  kill $sampler; wait $sampler 2>/dev/null || true
  lines=$(($(wc -l <"$tmp/export.csv") - 1))
  growth=$(sort -n "$tmp/rss" | tail -1 | awk -v b="$before" '{printf "%d", ($1 - b) / 1024}')
  xrate=$(python3 -c "print(int($lines / $export))")
  echo "run $run: create_shares 10000 ${create}s  update_prices ${update}s  import_orders $ROWS rows ${import}s (running ${secs}s: $rate rows/s; $applied placed, $refused refused, $made trades; a pause answered in ${pause_ms} ms; checkpoint caught up ${lag}s later)  export $lines rows ${export}s ($xrate rows/s; download ${download}s; RSS +${growth} MiB)"
  echo "$create $update $import $rate $xrate $growth $pause_ms $lag" >>"$tmp/results"
  stop_server
done
python3 - "$tmp/results" <<'EOF'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1])]
for i, name in enumerate(["create_shares 10000 (s)", "update_prices 10005 (s)", "import_orders end to end (s)", "import_orders rows/s (running)", "export rows/s", "export RSS growth (MiB)", "pause answered (ms)", "checkpoint behind the import's end (s)"]):
    col = [r[i] for r in rows]
    print(f"{name}: median {statistics.median(col):g} (range {min(col):g}-{max(col):g}, {len(col)} runs)")
EOF
