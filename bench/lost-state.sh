#!/usr/bin/env bash
# Lost state is noticed and recoverable (issue 27): a write ledger truncated mid-campaign, measured.
#
#   bin/setup && bench/lost-state.sh [N=1000] [CAP=600]
#
# A campaign with a daily cap of CAP: the first N/2 leads are queued, then ledger.sqlite is truncated to
# 0 bytes, then all N leads are sent again (the new half first, as a next batch would come).
# 1. without the check (the empty ledger accepted as new, which is what happened before: `cmo-plan
#    accept-state ledger` reproduces it): leads/add items the sandbox received, duplicates, and new leads
#    queued today beyond the cap.
# 2. with it: the re-run's exit status and requests (refused before any), then `cmo-plan rebuild-ledger
#    --campaign ID` (leads found, rows recorded, requests, seconds), then the re-run: items received,
#    duplicates, queued beyond the cap.
#
# The writers run with --now on the day the sandbox's Instantly stamps new leads (its timestamp_created counts
# from a fixed epoch, 2026-11-18), so the day a rebuilt lead counts on is the run's day, as with the real API.
#
# Environment: BIN (built products, default .build/release).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-$(pwd)/.build/release}
[ -x "$BIN/send-instantly" ] || { echo "bench: run bin/setup first (no send-instantly in $BIN)" >&2; exit 69; }
N=${1:-1000}
CAP=${2:-600}
HALF=$((N / 2))
NOW=2026-11-18T20:00:00Z
WORK=${KEEP:-$(mktemp -d /tmp/cmo-bench-lost.XXXXXX)}
mkdir -p "$WORK"
SANDBOX=$BIN/cmo-sandbox SANDBOX_PID=""
trap '[ -n "$SANDBOX_PID" ] && kill "$SANDBOX_PID" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
. bench/lib.sh # start_sandbox, stop_sandbox
export PATH=$BIN:$PATH

# leads FROM TO FILE: leads FROM..TO-1 as render-copy writes them.
leads() {
  python3 - "$1" "$2" "$3" <<'PY'
import json, sys
a, b, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
with open(path, "a") as f:
    for i in range(a, b):
        email = f"dev{i}@example.org"
        f.write(json.dumps({
            "kind": "person", "id": 10_000 + i, "login": f"dev{i}", "name": f"Dev Number{i}",
            "best_email": email, "email_checks": [{"address": email, "verdict": "safe"}],
            "emails": [{"address": email, "source": "commit", "evidence": f"acme/tool{i}@abc{i:05d}"}],
            "copy": {"subject": f"tool{i} and flaky CI", "template": "intro", "variant": "A",
                     "body": f"Hi Dev,\n\ntool{i} caught my eye.\n\nUnsubscribe: https://example.org/u?e={i}\n"},
        }) + "\n")
PY
}

campaign_id() {
  curl -s -H "Authorization: Bearer $INSTANTLY_API_KEY" "$INSTANTLY_API_URL/api/v2/campaigns?limit=100" \
    | jq -r '[.items[] | select(.status == 1 and (.sequences | tostring | contains("cmo_subject")))][0].id'
}
stat() { curl -s "$CMO_SANDBOX_URL/_sandbox/stats" | jq "$1"; }
items() { stat '[.writes[] | select(.service == "instantly")] | length'; }
queued_today() { jq -s '[.[] | select(.instantly.status == "queued")] | length' "$1"; }

rm -f "$WORK/first" "$WORK/again"
leads 0 "$HALF" "$WORK/first"
leads "$HALF" "$N" "$WORK/again"
leads 0 "$HALF" "$WORK/again"

# run LABEL MODE: a fresh sandbox and state; the first half queued; the ledger truncated; MODE old|new.
run() {
  local label=$1 mode=$2 state="$WORK/state-$1"
  rm -rf "$state"
  start_sandbox "$WORK/env" --seed 11 --repos 20 --users 20
  local c
  c=$(campaign_id)
  CMO_STATE_DIR=$state send-instantly --campaign "$c" --daily-new-leads "$CAP" --now "$NOW" -q < "$WORK/first" > "$WORK/$label-1.ndjson"
  local before_items
  before_items=$(items)
  : > "$state/ledger.sqlite"
  rm -f "$state/ledger.sqlite-wal" "$state/ledger.sqlite-shm"
  if [ "$mode" = old ]; then
    CMO_STATE_DIR=$state cmo-plan accept-state ledger 2>/dev/null
  else
    local req0 status=0
    req0=$(stat .requests_total)
    CMO_STATE_DIR=$state send-instantly --campaign "$c" --daily-new-leads "$CAP" --now "$NOW" -q < "$WORK/again" > "$WORK/$label-refused.ndjson" 2> "$WORK/$label-refused.err" || status=$?
    echo "$label: re-run after truncation: exit $status, requests $(( $(stat .requests_total) - req0 )), records out $(wc -l < "$WORK/$label-refused.ndjson")"
    echo "$label:   $(head -c 300 "$WORK/$label-refused.err")…"
    req0=$(stat .requests_total)
    local t0 t1
    t0=$(date +%s.%N)
    CMO_STATE_DIR=$state cmo-plan rebuild-ledger --campaign "$c" > "$WORK/$label-rebuild.json" 2>/dev/null
    t1=$(date +%s.%N)
    echo "$label: rebuild-ledger: $(jq -c '{found, recorded, already_present, requests, seconds}' "$WORK/$label-rebuild.json"), sandbox requests $(( $(stat .requests_total) - req0 )), wall $(python3 -c "print(round($t1 - $t0, 3))") s"
  fi
  local items0
  items0=$(items)
  CMO_STATE_DIR=$state send-instantly --campaign "$c" --daily-new-leads "$CAP" --now "$NOW" -q < "$WORK/again" > "$WORK/$label-2.ndjson"
  local q1 q2
  q1=$(queued_today "$WORK/$label-1.ndjson")
  q2=$(queued_today "$WORK/$label-2.ndjson")
  echo "$label: first run queued $q1 (items $before_items); re-run: leads/add items $(( $(items) - items0 )), queued now $q2, " \
    "new leads today $((q1 + q2)) against a cap of $CAP (beyond: $(( q1 + q2 > CAP ? q1 + q2 - CAP : 0 ))), duplicates $(stat .duplicates_total)"
  stop_sandbox
}

echo "N=$N leads, daily cap $CAP, first run $HALF, then the ledger truncated to 0 bytes and all $N sent again"
run without old
run with new
