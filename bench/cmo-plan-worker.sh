#!/usr/bin/env bash
# One long job run unattended by `cmo-plan worker` against a sandbox whose GitHub quota is scaled down so
# that the job must wait for several resets: the worker is killed with SIGKILL twice on the way and
# started again. Prints the wall time beside the time the quota makes unavoidable, the waits, the
# requests, the sandbox's rate-limit violations and duplicate writes, and the chat's status latency
# while the job runs.
#
#   bin/setup && bench/cmo-plan-worker.sh [N=10000]
#
# Environment: BIN (default .build/release), REPOS/USERS (world, default 200000/300000: about 10,000 leads), LATENCY (ms per
# answer, default 50), CORE/GRAPHQL (GitHub quota per window, default 400/800), WINDOW (seconds, default
# 60), MAXWAIT (a stage's --max-wait, default 5: longer waits are the worker's), KILL1/KILL2 (seconds
# after the start when the worker is killed, default 40/110).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-$(pwd)/.build/release}
[ -x "$BIN/cmo-plan" ] || { echo "bench: run bin/setup first (no binaries in $BIN)" >&2; exit 69; }
N=${1:-10000}
REPOS=${REPOS:-200000} USERS=${USERS:-300000} LATENCY=${LATENCY:-50}
CORE=${CORE:-400} GRAPHQL=${GRAPHQL:-800} WINDOW=${WINDOW:-60} MAXWAIT=${MAXWAIT:-5} ATTIO_WS=25
KILL1=${KILL1:-40} KILL2=${KILL2:-110}
NOW=2026-11-20T00:00:00Z
WORK=${KEEP:-$(mktemp -d /tmp/cmo-bench-worker.XXXXXX)}
mkdir -p "$WORK"
SANDBOX=$BIN/cmo-sandbox SANDBOX_PID="" WORKER=""
trap '[ -n "$WORKER" ] && kill -9 "$WORKER" 2>/dev/null; [ -n "$SANDBOX_PID" ] && kill "$SANDBOX_PID" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
. bench/lib.sh
start_sandbox "$WORK/env" --repos "$REPOS" --users "$USERS" --now "$NOW" --latency "*=$LATENCY" \
  --core-limit "$CORE" --graphql-limit "$GRAPHQL" --window-seconds "$WINDOW"
export CMO_STATE_DIR="$WORK/state" CMO_RUNS_DIR="$WORK/runs" CMO_MAX_WAIT=$MAXWAIT
# The demo campaign without its daily cap of 50 new leads, so that every lead found is sent and synced.
sed "s|\[../examples/templates\]|[$(pwd)/examples/templates]|" pipelines/demo-campaign.yaml >"$WORK/campaign.yaml"
printf 'send-instantly:\n  daily-new-leads: %s\n' "$((N * 2))" >>"$WORK/campaign.yaml"
GOAL="Find $N Python maintainers active in the last 90 days, queue them in Instantly campaign $CMO_SANDBOX_INSTANTLY_CAMPAIGN, add them to Attio list $CMO_SANDBOX_ATTIO_LIST, export a CSV"
echo "== $N leads, GitHub quota $CORE core / $GRAPHQL GraphQL points per ${WINDOW}s, --max-wait $MAXWAIT, world $REPOS/$USERS, +${LATENCY} ms"
ID=$("$BIN/cmo-plan" submit --yes --config "$WORK/campaign.yaml" --now "$NOW" "$GOAL" 2>/dev/null)
START=$(date +%s.%N)
worker() { "$BIN/cmo-plan" worker --concurrency 2 >>"$WORK/worker.log" 2>&1 & WORKER=$!; }
worker
status_of() { "$BIN/cmo-plan" list --json | jq -r --arg id "$ID" 'select(.id == $id) | .status'; }
elapsed() { python3 -c "print(round($(date +%s.%N) - $START, 1))"; }
LAT=()
for kill_at in "$KILL1" "$KILL2"; do
  while python3 -c "import sys; sys.exit(0 if $(elapsed) < $kill_at else 1)"; do
    case $(status_of) in done|failed|cancelled) break 2;; esac
    # The chat's answer to "status" while the job runs (a process of its own each time).
    s=$(date +%s.%N); printf 'status\nquit\n' | "$BIN/cmo-plan" chat --job-id "$ID" >/dev/null 2>&1; e=$(date +%s.%N)
    LAT+=("$(python3 -c "print(round(($e - $s) * 1000, 1))")")
    sleep 2
  done
  echo "  $(elapsed) s: kill -9 the worker (pid $WORKER), job $(status_of)"
  kill -9 "$WORKER"; wait "$WORKER" 2>/dev/null || true
  worker
done
while true; do case $(status_of) in done|failed|cancelled) break;; esac; sleep 1; done
WALL=$(elapsed)
kill "$WORKER"; wait "$WORKER" 2>/dev/null || true; WORKER=""
# The figures: nothing below may take the sandbox (and its counts) down with it.
set +e +o pipefail
STATS=$(curl -s "$CMO_SANDBOX_URL/_sandbox/stats")
echo "$STATS" >"$WORK/stats.json"
EVENTS="$WORK/runs/$ID/events.ndjson"
echo "  job $ID: $(status_of) after $WALL s"
"$BIN/cmo-plan" status "$ID" | grep -E "widening|of .* asked" | sed 's/^/  /'
tail -1 "$WORK/runs/$ID/logs/"*-export-csv.log 2>/dev/null | sed 's/^/  /'
echo "  waits for a reset (a stage's 75 slept out by the worker): $(jq -s '[.[] | select(.event == "waiting" and .retry_at != null)] | length' "$EVENTS")"
echo "  job starts by a worker: $(grep -c "started (pid" "$WORK/worker.log")"
q() { echo "$STATS" | jq -r "$1"; }
echo "  GitHub requests: $(q '[.requests | to_entries[] | select(.key | startswith("github ")) | .value] | add // 0')"
echo "  rate-limit violations: $(q '.violations_total') $(q '[.rate_limit_violations[] | "\(.service)/\(.bucket)"] | group_by(.) | map("\(.[0]) \(length)") | join(", ")')"
echo "  Instantly leads $(q '.services.instantly.leads'), duplicate leads $(q '.services.instantly.duplicate_leads_total'); Attio list entries $(q '.services.attio.list_entries'), notes $(q '.services.attio.notes')"
echo "  quota spent: $(q '.quota_spent | tostring')"
spent() { q "[.quota_spent | to_entries[] | select(.key | test(\"$1\")) | .value] | add // 0"; }
python3 - "$(spent '^github/core$')" "$(spent '^github/graphql$')" "$(spent '^github/search$')" "$(spent '^attio/writes$')" <<PY
import math, sys
core, gql, search, attio = map(int, sys.argv[1:5])
windows = max(math.ceil(core / $CORE), math.ceil(gql / $GRAPHQL), 1)
gh = (windows - 1) * $WINDOW
searches = (max(math.ceil(search / 30), 1) - 1) * 60
at = attio / $ATTIO_WS
floor = max(gh, searches) + at
print(f"  unavoidable: GitHub core/GraphQL {gh} s ({windows} windows of $WINDOW s), search {searches} s ({search} searches at 30 a minute), Attio {at:.0f} s ({attio} writes at $ATTIO_WS/s)")
print(f"  wall $WALL s vs {floor:.0f} s the quotas make unavoidable (GitHub, then Attio): {$WALL / floor:.2f}x")
PY
printf '  chat status latency (ms, a new cmo-plan chat process each): %s\n' "${LAT[*]:-none}"
