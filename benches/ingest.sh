#!/usr/bin/env bash
# Ingest and query benchmark: generate a corpus, index it, compare with tantivy-cli on the
# same events in the same run, and measure query latency.
#
#   benches/ingest.sh [SIZE_MB] [WORKDIR]      (defaults: 1500 MB, /tmp/stackfold-bench)
#
# TRACE_RATIO (default 0.05) is the share of events that carry a trace; the generator's
# traces repeat (a few dozen problems), so TRACE_RATIO=0.3 is the case of a service logging
# the same traces again and again.
#
# Needs GNU time (/usr/bin/time). tantivy-cli is compared when `tantivy` is on PATH
# (`cargo install tantivy-cli`, about 4 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${1:-1500}
WORK=${2:-/tmp/stackfold-bench}
THREADS=$(nproc)
TRACE_RATIO=${TRACE_RATIO:-0.05}

cargo build --release --bins --quiet
rm -rf "$WORK" && mkdir -p "$WORK"

echo "== generating ${SIZE_MB} MB (zstd files)"
./target/release/stackfold-gen --out "$WORK/logs" --size-mb "$SIZE_MB" --apps 5 --hosts 4 \
  --tags 4 --days 8 --trace-ratio "$TRACE_RATIO" --compress zstd --reference-jsonl "$WORK/events.jsonl"
mv "$WORK/logs/manifest.json" "$WORK/manifest.json"
RAW=$(jq .bytes "$WORK/manifest.json")
EVENTS=$(jq .events "$WORK/manifest.json")
ZST=$(du -sb "$WORK/logs" | cut -f1)

measure() { # label, command...: prints "seconds rss_kb"
  local label=$1; shift
  /usr/bin/time -v "$@" 2> "$WORK/$label.time" > "$WORK/$label.out"
  local wall rss
  wall=$(grep 'Elapsed (wall clock)' "$WORK/$label.time" | awk '{print $NF}' |
    awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(grep 'Maximum resident' "$WORK/$label.time" | awk '{print $NF}')
  echo "$wall $rss"
}

echo "== stackfold index"
read -r SF_S SF_RSS < <(measure stackfold ./target/release/stackfold index --data "$WORK/data" \
  --threads "$THREADS" --json "$WORK/logs")
# The whole data directory: the events' index, the frame blocks and the events' texts.
INDEX=$(du -sb "$WORK/data" | cut -f1)

REF_LINE="| tantivy-cli (same events as JSON, $THREADS threads) | not installed | | | |"
if command -v tantivy >/dev/null; then
  echo "== tantivy-cli index (reference)"
  mkdir -p "$WORK/ref" && cp ../shared/bench/tantivy-meta.json "$WORK/ref/meta.json" 2>/dev/null ||
    cp "$(dirname "$0")/tantivy-meta.json" "$WORK/ref/meta.json"
  read -r REF_S REF_RSS < <(measure reference tantivy index -i "$WORK/ref" -f "$WORK/events.jsonl" -t "$THREADS")
  REF_EVENTS=$(wc -l < "$WORK/events.jsonl")
  REF_LINE=$(awk -v s="$REF_S" -v r="$REF_RSS" -v e="$REF_EVENTS" -v b="$RAW" -v t="$THREADS" \
    'BEGIN { printf "| tantivy-cli (same events as JSON, %d threads) | %.1f | %.0f | %.0f | %.0f |", t, s, b/1e6/s, e/s, r/1024 }')
fi

SF_LINE=$(awk -v s="$SF_S" -v r="$SF_RSS" -v e="$EVENTS" -v b="$RAW" -v t="$THREADS" \
  'BEGIN { printf "| stackfold index (zstd files → committed index, %d threads) | %.1f | %.0f | %.0f | %.0f |", t, s, b/1e6/s, e/s, r/1024 }')

{
  echo "Machine: $(nproc) vCPU $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(free -g | awk '/Mem:/{print $2}') GiB; $(date -u +%F)"
  echo
  echo "Corpus: $(jq .files "$WORK/manifest.json") files, $(awk -v b="$RAW" 'BEGIN{printf "%.0f", b/1e6}') MB raw, $EVENTS events ($(jq .trace_events "$WORK/manifest.json") with traces), $(awk -v b="$ZST" 'BEGIN{printf "%.0f", b/1e6}') MB as zstd"
  echo
  echo "| ingest | seconds | MB/s of raw log | events/s | peak RSS MiB |"
  echo "|---|---|---|---|---|"
  echo "$SF_LINE"
  echo "$REF_LINE"
  echo
  awk -v i="$INDEX" -v r="$RAW" -v z="$ZST" 'BEGIN { printf "Index size: %.0f MB = %.2f × raw, %.2f × zstd\n", i/1e6, i/r, i/z }'
  echo
  cargo bench --quiet --bench search_latency -- "$WORK/data" 2>/dev/null
} | tee "$WORK/results.md"
