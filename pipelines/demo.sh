#!/usr/bin/env bash
# The main job, offline: the example people in examples/ → only those who commit → a CSV a person
# can open in a spreadsheet, with bad lines kept in a dead-letter file. Later stages slot in here.
#   pipelines/demo.sh [OUT_DIR=out]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${CMO_BIN:-$(pwd)/.build/release}
OUT=${1:-out}
mkdir -p "$OUT"
rm -f "$OUT/dead-letter.ndjson"

"$BIN/export-csv" \
  --where '.signals.commits_90d >= 5' \
  --columns id,login,name,company,followers,signals.commits_90d,signals.primary_language,signals.topics \
  --column 'email=[.emails[]? | select(.address | endswith("users.noreply.github.com") | not) | .address][0]' \
  --dead-letter "$OUT/dead-letter.ndjson" \
  -o "$OUT/leads.csv" \
  < examples/people.ndjson

echo
echo "== $OUT/leads.csv"
cat "$OUT/leads.csv"
echo
echo "== $OUT/dead-letter.ndjson"
cat "$OUT/dead-letter.ndjson"
