#!/usr/bin/env bash
# Load on the HTTP API: 50 concurrent clients (wrk, from Debian) mixing searches and group
# listings against `stackfold serve` on an existing index, e.g. the one benches/ingest.sh built.
#
#   benches/serve_load.sh DATA_DIR [SECONDS] [CLIENTS]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=$1
SECONDS_=${2:-30}
CLIENTS=${3:-50}
PORT=7381
cargo build --release --quiet --bin stackfold
./target/release/stackfold serve --data "$DATA" --listen "127.0.0.1:$PORT" > /dev/null 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/healthz" > /dev/null && break; sleep 0.2; done
echo "$CLIENTS clients for ${SECONDS_}s on $(curl -s "http://127.0.0.1:$PORT/metrics" | sed -n 's/^stackfold_events //p') events"
wrk -t2 -c"$CLIENTS" -d"${SECONDS_}s" --timeout 20s -s benches/serve_load.lua "http://127.0.0.1:$PORT" | tail -5
