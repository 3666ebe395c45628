#!/usr/bin/env bash
# A goal bigger than a day's cap, left to `cmo-plan worker` across days on a moved clock: N leads at CAP a
# day go out CAP a day, each once, with no person in between. Day 1 is a foreground `cmo-plan run` (it
# leaves the job waiting in the queue); each later day is a worker whose clock is that many days ahead
# (CMO_CLOCK_OFFSET=Kd), stopped once the job waits for the next day or is done. Then the same goal again,
# as a new job: nothing may be sent or noted twice, and the run must say so.
#
#   bin/setup && bench/deferred-days.sh [N=300] [CAP=50]
#
# Prints, per day: leads the sandbox's Instantly campaign received, the job's deferred leads left, the Attio
# notes, the wall time; then leads in the campaign against distinct emails (duplicates must be 0), notes
# against people, and what the re-run said.
# Environment: BIN (default .build/release), REPOS/USERS (the world; default 12000/18000, enough for N=300),
# LATENCY (ms per answer, default 0), KEEP (a directory to keep the run in).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-$(pwd)/.build/release}
[ -x "$BIN/cmo-plan" ] || { echo "bench: run bin/setup first (no binaries in $BIN)" >&2; exit 69; }
N=${1:-300}
CAP=${2:-50}
REPOS=${REPOS:-12000} USERS=${USERS:-18000} LATENCY=${LATENCY:-0}
NOW=2026-11-20T00:00:00Z
WORK=${KEEP:-$(mktemp -d /tmp/cmo-bench-days.XXXXXX)}
mkdir -p "$WORK/bin"
# A copy of the binaries: a build in the same tree while the bench runs must not swap them under it.
cp "$BIN"/{cmo-plan,cmo-sandbox,gh-search,gh-people,gh-enrich,mx-check,score-icp,render-copy,send-instantly,sync-attio,sync-linear,export-csv} "$WORK/bin/"
BIN=$WORK/bin
SANDBOX=$BIN/cmo-sandbox SANDBOX_PID="" WORKER=""
trap '[ -n "$WORKER" ] && kill -9 "$WORKER" 2>/dev/null; [ -n "$SANDBOX_PID" ] && kill "$SANDBOX_PID" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
. bench/lib.sh
start_sandbox "$WORK/env" --repos "$REPOS" --users "$USERS" --now "$NOW" --latency "*=$LATENCY"
export CMO_STATE_DIR="$WORK/state" CMO_RUNS_DIR="$WORK/runs"
sed "s|\[../examples/templates\]|[$(pwd)/examples/templates]|" pipelines/demo-campaign.yaml >"$WORK/campaign.yaml"
printf 'send-instantly:\n  daily-new-leads: %s\n' "$CAP" >>"$WORK/campaign.yaml"
C=$CMO_SANDBOX_INSTANTLY_CAMPAIGN
GOAL="Find $N Python maintainers active in the last 90 days, queue them in Instantly campaign $C, add them to Attio list $CMO_SANDBOX_ATTIO_LIST"
DAYS=$(( (N + CAP - 1) / CAP ))
echo "== $N leads at $CAP a day ($DAYS days at best), world $REPOS/$USERS, +${LATENCY} ms"

q() { curl -s "$CMO_SANDBOX_URL/_sandbox/stats" | jq -r "$1"; }
leads() { q ".services.instantly.campaigns[\"$C\"].leads // 0"; }
notes() { q '.services.attio.notes // 0'; }
# deferred: the job's leads its last send-instantly left deferred.
deferred() {
  local art
  art=$(jq -r '[.steps[] | select(.stage == "send-instantly" and .status == "done")] | last | .artifact // empty' "$CMO_RUNS_DIR/$ID/state.json")
  [ -n "$art" ] && jq -r 'select(.instantly.status == "deferred") | 1' "$CMO_RUNS_DIR/$ID/$art" | wc -l || echo 0
}
# settled K: in the queue, the job is done (or failed), or sleeps until after day K (the worker whose clock is
# K days ahead has nothing left to do).
settled() {
  "$BIN/cmo-plan" list --json 2>/dev/null | python3 -c '
import json, sys, time, datetime
k, job = int(sys.argv[1]), sys.argv[2]
for line in sys.stdin:
    j = json.loads(line)
    if j["id"] != job: continue
    if j["status"] in ("done", "failed", "cancelled"): sys.exit(0)
    if j["status"] != "sleeping" or "not_before" not in j: sys.exit(1)
    t = datetime.datetime.fromisoformat(j["not_before"].replace("Z", "+00:00")).timestamp()
    sys.exit(0 if t > time.time() + k * 86400 + 60 else 1)
sys.exit(1)' "$1" "$ID"
}
row() { printf '  %-7s %6s %9s %9s %7s %8s\n' "$@"; }

row day sent in-campaign deferred notes seconds
ID=bench-days
s=$(date +%s.%N)
set +e
"$BIN/cmo-plan" run --yes --config "$WORK/campaign.yaml" --now "$NOW" --job-id "$ID" "$GOAL" >/dev/null 2>"$WORK/day1.err"
status=$?
set -e
e=$(date +%s.%N)
before=0
now=$(leads)
row "1" "$((now - before))" "$now" "$(deferred)" "$(notes)" "$(python3 -c "print(round($e - $s, 1))")"
[ "$status" = 75 ] || [ "$status" = 0 ] || { echo "bench: cmo-plan run exited $status: $(tail -5 "$WORK/day1.err")" >&2; exit 1; }
grep -o '[0-9]* leads are deferred.*' "$WORK/day1.err" | head -1 | sed 's/^/  cmo-plan said: /' || true
before=$now
day=1
while [ "$(jq -r .status "$CMO_RUNS_DIR/$ID/state.json")" = waiting ] && [ "$day" -lt $((DAYS + 5)) ]; do
  s=$(date +%s.%N)
  CMO_CLOCK_OFFSET=${day}d "$BIN/cmo-plan" worker --concurrency 1 --poll 0.1 >>"$WORK/worker.log" 2>&1 &
  WORKER=$!
  sleep 0.5
  until settled "$day"; do sleep 0.2; done
  kill "$WORKER"; wait "$WORKER" 2>/dev/null || true; WORKER=""
  e=$(date +%s.%N)
  day=$((day + 1))
  now=$(leads)
  row "$day" "$((now - before))" "$now" "$(deferred)" "$(notes)" "$(python3 -c "print(round($e - $s, 1))")"
  before=$now
done
echo "  job $ID: $(jq -r .status "$CMO_RUNS_DIR/$ID/state.json") after $day days"
jq -r '.summary' "$CMO_RUNS_DIR/$ID/state.json" | grep -E "send-instantly|sync-attio" | sed 's/^/  /'
echo "  campaign: $(q ".services.instantly.campaigns[\"$C\"] | {leads, distinct_emails, duplicate_leads, resubmissions} | tostring")"
echo "  duplicates: $(q '.services.instantly.duplicate_leads_total') (leads in the campaign $(leads) vs distinct emails $(q ".services.instantly.campaigns[\"$C\"].distinct_emails"))"
echo "  Attio: $(q '.services.attio | {people: .records, list_entries, notes, duplicate_notes, records_with_several_notes} | tostring')"

echo "== the same goal again, a new job"
set +e
"$BIN/cmo-plan" run --yes -q --config "$WORK/campaign.yaml" --now "$NOW" --job-id "$ID-again" "$GOAL" 2>"$WORK/again.err"
status=$?
set -e
echo "  exit $status; sent $(( $(leads) - before )), notes now $(notes)"
jq -r '.summary' "$CMO_RUNS_DIR/$ID-again/state.json" | grep -E "send-instantly|sync-attio" | sed 's/^/  /'
grep -ho '"msg":"[0-9]* queued now[^"]*"' "$CMO_RUNS_DIR/$ID-again/logs/"*send-instantly.log | head -1 | sed 's/^/  send-instantly said: /'
