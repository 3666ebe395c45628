#!/usr/bin/env bash
# The rule parser's parse rate: `cmo-plan parse` over bench/goals.txt (EXPECTED<TAB>GOAL a line; EXPECTED is
# the job's JSON, or REFUSE for a goal that must exit 64). A goal counts when its job is exactly the expected
# one, or when a REFUSE goal exits 64; every miss is printed with what came instead.
#
#   swift build && bench/parse-rate.sh [GOALS=bench/goals.txt]
#
# Environment: BIN (built products, default .build/debug).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-$(pwd)/.build/debug}
[ -x "$BIN/cmo-plan" ] || { echo "parse-rate: no cmo-plan in $BIN (swift build first)" >&2; exit 69; }
GOALS=${1:-bench/goals.txt}
err=$(mktemp)
trap 'rm -f "$err"' EXIT
total=0 read=0
while IFS=$'\t' read -r expected goal; do
    case "$expected" in '#'* | '') continue ;; esac
    total=$((total + 1))
    status=0
    got=$(env -i PATH=/usr/bin:/bin HOME="${TMPDIR:-/tmp}" "$BIN/cmo-plan" parse -- "$goal" 2>"$err") || status=$?
    if [ "$expected" = REFUSE ]; then
        if [ "$status" -eq 64 ]; then read=$((read + 1)); continue; fi
        printf 'miss: %s\n  expected: refused (exit 64)\n  got: exit %s %s\n' "$goal" "$status" "$got"
    else
        if [ "$status" -eq 0 ] && [ "$got" = "$expected" ]; then read=$((read + 1)); continue; fi
        printf 'miss: %s\n  expected: %s\n  got: exit %s %s %s\n' "$goal" "$expected" "$status" "$got" "$(tr '\n' ' ' < "$err")"
    fi
done < "$GOALS"
echo "parse rate: $read/$total goals read as expected ($(( total > 0 ? read * 100 / total : 0 ))%)"
