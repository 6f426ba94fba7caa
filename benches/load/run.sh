#!/usr/bin/env bash
# HTTP load driver: a trading mix (benches/load/trading.lua) against a
# release `marketsim serve --scenario simulations/scenarios/live.toml` on
# 127.0.0.1 only, in each of $MODES, $RUNS times each; GET /health first in
# every run for scale. Each phase runs $DURATION (10s) with $CONNS (64)
# connections on one wrk thread; the server gets the rest of the machine.
# Prints each run and, per mode, the median and range of orders/s,
# trades/s and p99. Stops by itself.
#
#   benches/load/run.sh                        # needs wrk (apt-get install wrk)
#   MODES="memory pg pg+redis" RUNS=5 benches/load/run.sh
#   BIN=/tmp/other/marketsim benches/load/run.sh   # another build, not rebuilt
#
# pg needs DATABASE_URL (a fresh database is created per run beside it);
# pg+redis also REDIS_URL (default redis://127.0.0.1:6379).
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
USERS=${USERS:-64}
PORT=${PORT:-18090}
RUNS=${RUNS:-5}
MODES=${MODES:-memory}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet --bin marketsim
  BIN=./target/release/marketsim
fi
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
trades() { curl -sf "127.0.0.1:$PORT/metrics" | awk '/^marketsim_trades_total /{print $2}' | head -1; }

run_once() { # mode run
  # Rate limits and caps off: the load driver is one address with many keys.
  local mode=$1 env=(MARKETSIM_LOG=warn MARKETSIM_STARTING_CASH=1000000000.00
    MARKETSIM_ORDERS_PER_SECOND_PER_KEY=0 MARKETSIM_ORDERS_PER_SECOND_PER_ADDRESS=0
    MARKETSIM_REGISTRATIONS_PER_MINUTE_PER_ADDRESS=0 MARKETSIM_MAX_USERS=0) db= facts=0
  case $mode in
    pg|pg+redis)
      [ -n "${DATABASE_URL:-}" ] || { echo "mode $mode needs DATABASE_URL" >&2; exit 1; }
      db="marketsim_load_$$"
      psql "$DATABASE_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
      env+=("MARKETSIM_DATABASE_URL=${DATABASE_URL%/*}/$db") ;;
  esac
  if [ "$mode" = pg+redis ]; then
    env+=("MARKETSIM_REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}" "MARKETSIM_REDIS_PREFIX=marketsim-load-$$")
  fi
  env "${env[@]}" "$BIN" serve --listen "127.0.0.1:$PORT" \
    --scenario simulations/scenarios/live.toml ${THREADS:+--threads "$THREADS"} >"$tmp/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do curl -sf "127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
  : >"$tmp/keys"
  for i in $(seq 1 "$USERS"); do
    curl -sf -X POST "127.0.0.1:$PORT/v1/users" -H 'content-type: application/json' -d "{\"name\":\"load$i\"}" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])' >>"$tmp/keys"
  done
  sleep 2 # the market makers' first quotes
  local health
  health=$(wrk -t1 -c"$CONNS" -d"$DURATION" "http://127.0.0.1:$PORT/health" | awk '/Requests\/sec/{print $2}')
  local t0 t1
  t0=$(trades)
  KEYS_FILE="$tmp/keys" wrk -t1 -c"$CONNS" -d"$DURATION" -s benches/load/trading.lua \
    "http://127.0.0.1:$PORT" >"$tmp/wrk.out" 2>"$tmp/wrk.err"
  t1=$(trades)
  curl -sf "127.0.0.1:$PORT/metrics" >"$tmp/metrics" || : >"$tmp/metrics"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  # Facts journaled in all (set-up, agents and ticks included).
  [ -n "$db" ] && facts=$(psql "${DATABASE_URL%/*}/$db" -tAc "SELECT sum(facts) FROM journal")
  python3 - "$mode" "$health" "$t0" "$t1" "$tmp/wrk.out" "$tmp/results" "$facts" "$tmp/metrics" <<'PY'
import re, sys
mode, health, t0, t1, out, results, facts, metrics = sys.argv[1:]
m = {}
for line in open(metrics):
    if not line.startswith("#") and " " in line:
        k, v = line.rsplit(" ", 1)
        m[k] = float(v)
text = open(out).read()
orders, secs = map(float, re.search(r"ORDERS=(\d+) SECS=([\d.]+)", text).groups())
p = dict(zip(["p50", "p90", "p99", "p999"], map(float, re.search(
    r"p50 ([\d.]+) p90 ([\d.]+) p99 ([\d.]+) p99.9 ([\d.]+)", text).groups())))
trades = (float(t1) - float(t0)) / secs
row = f"{mode} {orders/secs:.0f} {trades:.0f} {p['p50']} {p['p99']} {p['p999']} {float(health):.0f}"
open(results, "a").write(row + "\n")
print(f"  {mode}: orders {orders/secs:,.0f}/s, trades {trades:,.0f}/s ({100*trades*secs/orders:.0f}% of orders), "
      f"p50 {p['p50']} ms, p99 {p['p99']} ms, p99.9 {p['p999']} ms; GET /health {float(health):,.0f}/s")
def ratio(a, b):
    return m[a] / m[b] if m.get(b) else 0
print(f"    router: {ratio('marketsim_router_batch_size_sum', 'marketsim_router_batch_size_count'):.1f} submissions per engine hand-off (mean)")
if int(facts):
    print(f"    journal group commit: {ratio('marketsim_persistence_facts_total', 'marketsim_persistence_batch_seconds_count'):.1f} facts per insert (mean)")
    print(f"    journal: {int(facts):,} facts = {int(facts)/secs:,.0f} facts/s over the trading phase, "
          f"{int(facts)/orders:.1f} per order (set-up, agents and ticks included)")
for line in text.splitlines():
    if line.startswith(("requests:", "latency")):
        print("    " + line)
PY
  if [ -s "$tmp/wrk.err" ]; then sed 's/^/    wrk: /' "$tmp/wrk.err" | head -5; fi
}

for mode in $MODES; do
  for r in $(seq 1 "$RUNS"); do
    echo "== $mode, run $r/$RUNS ($CONNS connections, $USERS users, $DURATION)"
    run_once "$mode"
  done
done
echo "== medians over $RUNS runs (range)"
python3 - "$tmp/results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
for mode in dict.fromkeys(r[0] for r in rows):
    rs = [list(map(float, r[1:])) for r in rows if r[0] == mode]
    col = lambda i: sorted(r[i] for r in rs)
    o, t, p99, p999, h = col(0), col(1), col(3), col(4), col(5)
    m = statistics.median
    print(f"{mode}: orders/s {m(o):,.0f} ({o[0]:,.0f}-{o[-1]:,.0f}), trades/s {m(t):,.0f} ({t[0]:,.0f}-{t[-1]:,.0f}), "
          f"p99 {m(p99)} ms ({p99[0]}-{p99[-1]}), p99.9 {m(p999)} ms, orders/health {m(o)/m(h):.2f}")
PY
