#!/usr/bin/env bash
# Throughput and memory of render-copy (no --llm) with the example campaign and its two A/B templates.
#   bench/render-copy.sh [N=200000]
# Prints leads/s (best of 3, one process = one core) and peak RSS. Target: >= 20,000 leads/s.
# Environment: CMO_BIN (built products, default .build/release).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200000}
BIN=${CMO_BIN:-.build/release}
[ -x "$BIN/render-copy" ] || swift build -c release --product render-copy >/dev/null
[ -x /usr/bin/time ] || { echo "bench: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
python3 bench/gen-records.py "$N" > "$work/in.ndjson"
bytes=$(stat -c %s "$work/in.ndjson")
run() { "$BIN/render-copy" --config examples/campaign.yaml --template examples/templates --dead-letter "$work/dl.ndjson" "$@" < "$work/in.ndjson"; }

echo "records: $N ($((bytes / 1000000)) MB, $((bytes / N)) bytes each); templates: examples/templates (2 variants)"
best=
for _ in 1 2 3; do
  rm -f "$work/dl.ndjson"
  s=$(date +%s.%N); run -q > "$work/out.ndjson"; e=$(date +%s.%N)
  t=$(python3 -c "print(round($e - $s, 3))")
  if [ -z "$best" ] || python3 -c "import sys; sys.exit(0 if $t < $best else 1)"; then best=$t; fi
done
out=$(wc -l < "$work/out.ndjson"); dead=$( [ -f "$work/dl.ndjson" ] && wc -l < "$work/dl.ndjson" || echo 0)
echo "render-copy: ${best}s for $N leads ($out rendered, $dead dead-lettered): $(python3 -c "print(int($N / $best))") leads/s (target >= 20000)"
rm -f "$work/dl.ndjson"
rss=$(/usr/bin/time -f %M "$BIN/render-copy" -q --config examples/campaign.yaml --template examples/templates \
  --dead-letter "$work/dl.ndjson" < "$work/in.ndjson" 2>&1 >/dev/null | tail -1)
echo "peak RSS: $((rss / 1024)) MB (/usr/bin/time -v: Maximum resident set size)"
