#!/usr/bin/env bash
# HTTP load driver: GET /health, then POST /v1/orders, against a release
# `marketsim serve` on 127.0.0.1 only. Each phase runs for $DURATION (10s)
# with $CONNS (64) connections on one wrk thread; the server gets the rest of
# the machine. Stops by itself.
#
#   benches/load/run.sh            # needs wrk (apt-get install wrk)
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
USERS=${USERS:-64}
PORT=${PORT:-18090}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
cargo build --release --quiet --bin marketsim
tmp=$(mktemp -d)
printf 'matchers = %s\n' "${MATCHERS:-64}" >"$tmp/serve.toml"
MARKETSIM_LOG=warn ./target/release/marketsim serve --config "$tmp/serve.toml" --listen "127.0.0.1:$PORT" ${THREADS:+--threads "$THREADS"} >"$tmp/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 1 50); do curl -sf "127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
for i in $(seq 1 "$USERS"); do
  curl -sf -X POST "127.0.0.1:$PORT/v1/users" -H 'content-type: application/json' -d "{\"name\":\"load$i\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])' >>"$tmp/keys"
done
echo "== GET /health ($CONNS connections, $DURATION)"
wrk -t1 -c"$CONNS" -d"$DURATION" --latency "http://127.0.0.1:$PORT/health" | grep -E "Requests/sec|50%|90%|99%|Non-2xx|Socket errors"
echo "== POST /v1/orders ($CONNS connections, $USERS users, $DURATION)"
KEYS_FILE="$tmp/keys" wrk -t1 -c"$CONNS" -d"$DURATION" --latency -s benches/load/orders.lua "http://127.0.0.1:$PORT" 2>"$tmp/wrk.err" |
  grep -E "Requests/sec|50%|90%|99%|Non-2xx|Socket errors"
if [ -s "$tmp/wrk.err" ]; then echo "unexpected responses:"; sort "$tmp/wrk.err" | uniq -c | head; fi
