#!/usr/bin/env bash
# Load on the HTTP API as a team using the web UI makes it: CLIENTS concurrent clients (wrk,
# from Debian) replaying the UI's requests (benches/load.lua) against `stackfold serve` on an
# existing index, for example the one benches/ingest.sh built. Prints requests/s, p50, p90,
# p99 and errors. The words searched and the groups opened are taken from the index itself.
#
#   benches/load.sh DATA_DIR [SECONDS] [CLIENTS] [BINARY]
#
# WARMUP=N first runs the same load for N seconds unmeasured (a server that has been up a
# while has its caches filled); by default the measure starts with the server.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=$1
SECONDS_=${2:-30}
CLIENTS=${3:-50}
BIN=${4:-}
PORT=7383
if [ -z "$BIN" ]; then
  cargo build --release --quiet --bin stackfold
  BIN=./target/release/stackfold
fi
URL="http://127.0.0.1:$PORT"
if curl -s -o /dev/null "$URL/healthz"; then
  echo "something already answers on port $PORT: stop it first" >&2
  exit 1
fi
"$BIN" serve --data "$DATA" --listen "127.0.0.1:$PORT" > /dev/null 2>&1 &
SERVER=$!
stop() { # builds before issue 17's coalescing fix could hang on SIGTERM after a load
  kill "$SERVER" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$SERVER" 2>/dev/null || return 0; sleep 0.2; done
  echo "the server did not stop within 10 s of SIGTERM; killed" >&2
  kill -9 "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null
}
trap stop EXIT
for _ in $(seq 100); do curl -sf "$URL/healthz" > /dev/null && break; sleep 0.2; done
# Twenty groups of the list, the apps, and words from the messages of recent events.
export LOAD_GROUPS LOAD_APPS LOAD_WORDS
LOAD_GROUPS=$(curl -sf "$URL/api/exceptions?limit=20&status=all" \
  | python3 -c 'import json,sys; print(",".join(g["fingerprint"] for g in json.load(sys.stdin)["groups"]))')
LOAD_APPS=$(curl -sf "$URL/api/fields?q=" \
  | python3 -c 'import json,sys; print(",".join(v["value"] for v in json.load(sys.stdin)["fields"].get("app", [])[:4]))')
LOAD_WORDS=$(curl -sf "$URL/api/search?q=&limit=500" | python3 -c '
import collections, json, re, sys, urllib.parse
words = collections.Counter()
for hit in json.load(sys.stdin)["hits"]:
    words.update(w.lower() for w in re.findall(r"[A-Za-z]{4,}", hit.get("message", "")))
print(",".join(urllib.parse.quote(w) for w, _ in words.most_common(12)))')
echo "$CLIENTS clients for ${SECONDS_}s on $(curl -s "$URL/metrics" | sed -n 's/^stackfold_events //p') events"
echo "words: $LOAD_WORDS"
if [ "${WARMUP:-0}" -gt 0 ]; then
  wrk -t2 -c"$CLIENTS" -d"${WARMUP}s" --timeout 20s -s benches/load.lua "$URL" > /dev/null
  echo "after ${WARMUP}s of the same load, unmeasured"
fi
wrk -t2 -c"$CLIENTS" -d"${SECONDS_}s" --timeout 20s -s benches/load.lua "$URL" | sed -n '/^distinct/,$p'
echo "server peak RSS $(awk '/VmHWM/ {printf "%.0f MiB", $2 / 1024}' "/proc/$SERVER/status")"
