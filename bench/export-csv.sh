#!/usr/bin/env bash
# Throughput and memory of export-csv (and the core's --where) against jq on the same records.
#   bench/export-csv.sh [N=200000] [N_MEMORY=1000000]
# Prints one line per figure. Needs a release build (bin/setup does it) and jq.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200000}
NMEM=${2:-1000000}
BIN=${CMO_BIN:-.build/release}
[ -x "$BIN/export-csv" ] || swift build -c release --product export-csv >/dev/null
command -v jq >/dev/null && [ -x /usr/bin/time ] || { echo "bench: needs jq and /usr/bin/time (apt-get install jq time)" >&2; exit 1; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
python3 bench/gen-records.py "$N" > "$work/in.ndjson"
bytes=$(stat -c %s "$work/in.ndjson")

. bench/lib.sh  # best, ratio, rss_of

COLS=id,login,name,company,followers,signals.commits_90d,signals.primary_language,stars
JQCOLS='[.id,.login,.name,.company,.followers,.signals.commits_90d,.signals.primary_language,.stars]'
echo "records: $N ($((bytes / 1000000)) MB, $((bytes / N)) bytes each)"
ours=$(best "$BIN/export-csv -q --columns $COLS < $work/in.ndjson")
theirs=$(best "jq -r '$JQCOLS | @csv' < $work/in.ndjson")
echo "export-csv --columns (8 fields): ${ours}s; jq @csv: ${theirs}s; speed-up: $(ratio "$theirs" "$ours")x (target >= 2x)"
ours=$(best "$BIN/export-csv -q --where '.followers > 100' --columns id < $work/in.ndjson")
theirs=$(best "jq -r 'select(.followers > 100) | .id' < $work/in.ndjson")
echo "--where '.followers > 100' (fast path): ${ours}s; jq select: ${theirs}s; speed-up: $(ratio "$theirs" "$ours")x (target >= 1x)"
ours=$(best "$BIN/export-csv -q --where '.followers > 100 | not | not' --columns id < $work/in.ndjson")
echo "--where through libjq (an expression the fast path leaves to jq): ${ours}s; jq select: ${theirs}s; speed-up: $(ratio "$theirs" "$ours")x"
ours=$(best "$BIN/export-csv -q < $work/in.ndjson")
theirs=$(best "jq -r '[.[] | if type == \"object\" or type == \"array\" then tojson else . end] | @csv' < $work/in.ndjson")
echo "export-csv, all columns (union of keys, spilled): ${ours}s; jq equivalent: ${theirs}s; speed-up: $(ratio "$theirs" "$ours")x"

python3 bench/gen-records.py "$NMEM" 7 > "$work/big.ndjson"
rss() { rss_of "$work/big.ndjson" "$@"; }
echo "peak RSS at $NMEM records, --columns: $(( $(rss "$BIN/export-csv" -q --columns "$COLS") / 1024 )) MB (target <= 64 MB)"
echo "peak RSS at $NMEM records, all columns: $(( $(rss "$BIN/export-csv" -q) / 1024 )) MB"
head -n $((NMEM / 10)) "$work/big.ndjson" > "$work/small.ndjson"
echo "peak RSS at $((NMEM / 10)) records, --columns: $(( $(/usr/bin/time -f %M "$BIN/export-csv" -q --columns "$COLS" 2>&1 >/dev/null < "$work/small.ndjson" | tail -1) / 1024 )) MB (flat as input grows)"
