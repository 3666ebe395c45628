#!/usr/bin/env bash
# score-icp with the default ICP (five features) against the same math written as a jq program.
#   bench/score-icp.sh [N=200000]
# Prints the time of each (best of 3), the speed-up (target >= 1.5x), peak RSS, and checks that both
# give the same scores. Needs a release build (CMO_BIN=dir, default .build/release), jq, /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200000}
BIN=${CMO_BIN:-.build/release}
AS_OF=2026-12-01T00:00:00Z
AS_OF_EPOCH=1796083200
[ -x "$BIN/score-icp" ] || { echo "bench: no $BIN/score-icp (swift build -c release, or set CMO_BIN)" >&2; exit 1; }
command -v jq >/dev/null && [ -x /usr/bin/time ] || { echo "bench: needs jq and /usr/bin/time (apt-get install jq time)" >&2; exit 1; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
python3 bench/score-icp/gen-people.py "$N" > "$work/in.ndjson"
bytes=$(stat -c %s "$work/in.ndjson")

. bench/lib.sh  # best, ratio, rss_of
rss() { rss_of "$work/in.ndjson" "$@"; }

OURS="$BIN/score-icp -q --icp examples/icp.yaml --as-of $AS_OF"
JQ="jq -c --argjson asof $AS_OF_EPOCH -f bench/score-icp/score.jq"
echo "records: $N ($((bytes / 1000000)) MB, $((bytes / N)) bytes each); ICP: examples/icp.yaml (5 features), as of $AS_OF"
ours=$(best "$OURS < $work/in.ndjson")
theirs=$(best "$JQ < $work/in.ndjson")
echo "score-icp: ${ours}s; jq (bench/score-icp/score.jq): ${theirs}s; speed-up: $(ratio "$theirs" "$ours")x (target >= 1.5x)"
parse=$(best "jq -c . < $work/in.ndjson")
echo "for scale, jq -c . (parse and print only, no scoring): ${parse}s"
# The same ICP with every expression written so the native path leaves it to libjq (`(.x)`).
sed -E 's/^( +jq: )(\.[a-z_.]+)/\1(\2)/' examples/icp.yaml > "$work/icp-libjq.yaml"
s=$(date +%s.%N); $BIN/score-icp -q --icp "$work/icp-libjq.yaml" --as-of $AS_OF < "$work/in.ndjson" > /dev/null; e=$(date +%s.%N)
echo "for scale, score-icp with all 5 expressions through libjq (one run): $(python3 -c "print(round($e - $s, 3))")s"
ours_top=$(best "$OURS --top 1000 < $work/in.ndjson")
echo "score-icp --top 1000: ${ours_top}s"
echo "peak RSS: score-icp $(( $(rss $OURS) / 1024 )) MB, --top 1000 $(( $(rss $OURS --top 1000) / 1024 )) MB, jq $(( $(rss $JQ) / 1024 )) MB"

# Same scores, record by record (compared in units of 0.0001, as both compute them).
$OURS < "$work/in.ndjson" > "$work/ours.ndjson"
$JQ < "$work/in.ndjson" > "$work/jq.ndjson"
python3 - "$work/ours.ndjson" "$work/jq.ndjson" <<'PY'
import json, sys
diff = n = 0
with open(sys.argv[1]) as a, open(sys.argv[2]) as b:
    for x, y in zip(a, b):
        n += 1
        x, y = json.loads(x), json.loads(y)
        u = lambda v: round(v * 10000)
        bx, by = x["score_breakdown"], y["score_breakdown"]
        if u(x["score"]) != u(y["score"]) or any(u(bx[k]) != u(by[k]) for k in bx if k != "errors") \
                or bx.get("errors") != by.get("errors"):
            diff += 1
            if diff <= 3:
                print("differs:", x["id"], x["score_breakdown"], y["score_breakdown"], file=sys.stderr)
print(f"same scores as jq: {n - diff} of {n} records" + ("" if diff == 0 else f" ({diff} DIFFER)"))
sys.exit(1 if diff else 0)
PY
