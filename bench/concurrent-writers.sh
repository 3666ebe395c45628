#!/usr/bin/env bash
# The workspace's limits, whatever runs at once: writers of each kind started together on one state
# directory, against the sandbox (which counts every request sent over a limit as a violation).
#
#   bin/setup && bench/concurrent-writers.sh [WRITERS=4] [PEOPLE=200] [LEADS=1000]
#
# 1. Attio (25 writes/s): one sync-attio over WRITERS×PEOPLE/WRITERS people alone, then WRITERS at once
#    over the same number split between them (throughput against one alone), then WRITERS at once over
#    PEOPLE each: violations, 429s, wall time, writes per second.
# 2. Instantly: WRITERS send-instantly at once, LEADS different leads each, with a daily cap of 50 and
#    of 100: leads in the campaign, leads the ledger confirms for the day, violations; then the same
#    leads with no cap, one writer alone against WRITERS at once (throughput).
# 3. Linear with a budget of 40 requests per 10 s: WRITERS sync-linear at once, each filing its own
#    errors: violations (a request sent with the budget spent), issues filed, wall time.
# 4. Mixed: WRITERS sync-attio at once while `cmo-plan worker --concurrency 2` runs two queued goals
#    that write to the same Attio list: violations.
# 5. kill -9 among writers: WRITERS send-instantly at once over the SAME LEADS leads (and WRITERS
#    sync-attio over the same PEOPLE people), one of them killed with SIGKILL at random instants
#    (every 0.1–0.5 s, one time in two) and started again, until every writer has finished once, then
#    one settling run (a writer passes over what a live writer holds, `deferred: in_progress`):
#    duplicates, leads missing, violations.
#
# Environment: BIN (built products, default .build/release), LATENCY (ms per answer, default 20).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-$(pwd)/.build/release}
[ -x "$BIN/sync-attio" ] || { echo "bench: run bin/setup first (no sync-attio in $BIN)" >&2; exit 69; }
WRITERS=${1:-4}
PEOPLE=${2:-200}
LEADS=${3:-1000}
LATENCY=${LATENCY:-20}
WORK=${KEEP:-$(mktemp -d /tmp/cmo-bench-concurrent.XXXXXX)}
mkdir -p "$WORK"
SANDBOX=$BIN/cmo-sandbox SANDBOX_PID="" WORKER=""
trap '[ -n "$WORKER" ] && kill -9 "$WORKER" 2>/dev/null; [ -n "$SANDBOX_PID" ] && kill "$SANDBOX_PID" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
. bench/lib.sh # start_sandbox, stop_sandbox
export PATH=$BIN:$PATH

# people N FROM FILE: N leads as send-instantly writes them, numbered from FROM.
people() {
  python3 - "$1" "$2" "$3" <<'EOF'
import json, sys
n, start, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
with open(path, "w") as f:
    for i in range(start, start + n):
        email = f"dev{i}@example.org"
        f.write(json.dumps({
            "kind": "person", "id": 10_000 + i, "login": f"dev{i}", "name": f"Dev Number{i}", "company": "@acme",
            "best_email": email, "email_checks": [{"address": email, "verdict": "safe"}],
            "emails": [{"address": email, "source": "commit", "evidence": f"acme/tool{i}@abc{i:05d}"}],
            "copy": {"subject": f"tool{i} and flaky CI", "template": "intro", "variant": "A",
                     "body": f"Hi Dev,\n\ntool{i} caught my eye.\n\nUnsubscribe: https://example.org/u?e={i}\n"},
            "instantly": {"status": "queued", "campaign_id": "camp-1", "lead_id": f"lead-{i}"},
        }) + "\n")
EOF
}

# errors N FROM FILE: N dead letters of N distinct errors (each files its own Linear issue).
errors() {
  python3 - "$1" "$2" "$3" <<'EOF'
import json, sys
n, start, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
with open(path, "w") as f:
    for i in range(start, start + n):
        f.write(json.dumps({"stage": "mx-check", "line": i + 1,
                            "error": {"code": f"code_{i}", "message": f"resolver {i} refused", "retryable": False},
                            "input": {"id": i}}) + "\n")
EOF
}

stat() { curl -s "$CMO_SANDBOX_URL/_sandbox/stats" | jq "$@"; }
reset() { curl -s -X POST "$CMO_SANDBOX_URL/_sandbox/reset" >/dev/null; }
violations() { stat -r --arg s "$1" '[.rate_limit_violations[] | select(.service == $s)] | length'; }
now() { date +%s.%N; }
# sql DB QUERY: one value from an SQLite file.
sql() { python3 -c "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])" "$1" "$2"; }
secs() { python3 -c "print(round($2 - $1, 1))"; }

# together N CMD...: N copies of a command at once, the i-th with $I set to i; waits for all; prints their
# exit statuses.
together() {
  local n=$1; shift
  local pids=() codes=()
  for i in $(seq 0 $((n - 1))); do I=$i bash -c "$*" & pids+=($!); done
  for p in "${pids[@]}"; do if wait "$p"; then codes+=(0); else codes+=($?); fi; done
  echo "${codes[*]}"
}
export -f people errors

start_sandbox "$WORK/env" --seed 5 --repos 20 --users 20 --latency "*=$LATENCY"
LIST=$CMO_SANDBOX_ATTIO_LIST CAMPAIGN=$CMO_SANDBOX_INSTANTLY_CAMPAIGN; export LIST CAMPAIGN
export LIST CAMPAIGN WORK

echo "== 1. Attio, 25 writes/s: one sync-attio alone against $WRITERS at once (+${LATENCY} ms per answer)"
TOTAL=$PEOPLE
people "$TOTAL" 0 "$WORK/alone.ndjson"
reset
s=$(now)
CMO_STATE_DIR=$WORK/attio-alone sync-attio --list "$LIST" --job alone -q --max-wait 30 <"$WORK/alone.ndjson" >/dev/null
e=$(now)
W=$(stat '.quota_spent["attio/writes"] // 0')
echo "   alone: $TOTAL people, $W writes in $(secs "$s" "$e") s ($(python3 -c "print(round($W / ($e - $s), 1))") writes/s), violations $(violations attio)"
for i in $(seq 0 $((WRITERS - 1))); do people $((TOTAL / WRITERS)) $((100000 + i * 10000)) "$WORK/split-$i.ndjson"; done
reset
s=$(now)
codes=$(together "$WRITERS" 'CMO_STATE_DIR=$WORK/attio-split sync-attio --list "$LIST" --job split-$I -q --max-wait 30 <"$WORK/split-$I.ndjson" >/dev/null')
e=$(now)
W=$(stat '.quota_spent["attio/writes"] // 0')
echo "   $WRITERS at once, $((TOTAL / WRITERS)) people each: $W writes in $(secs "$s" "$e") s ($(python3 -c "print(round($W / ($e - $s), 1))") writes/s), violations $(violations attio), 429s $(stat '.services.attio.rejected_429'), exits $codes"
for i in $(seq 0 $((WRITERS - 1))); do people "$PEOPLE" $((200000 + i * 10000)) "$WORK/each-$i.ndjson"; done
reset
s=$(now)
codes=$(together "$WRITERS" 'CMO_STATE_DIR=$WORK/attio-each sync-attio --list "$LIST" --job each-$I -q --max-wait 30 <"$WORK/each-$I.ndjson" >/dev/null')
e=$(now)
W=$(stat '.quota_spent["attio/writes"] // 0')
echo "   $WRITERS at once, $PEOPLE people each: $W writes in $(secs "$s" "$e") s ($(python3 -c "print(round($W / ($e - $s), 1))") writes/s), violations $(violations attio), 429s $(stat '.services.attio.rejected_429'), people $(stat .services.attio.records), notes $(stat .services.attio.notes), exits $codes"

echo "== 2. Instantly: $WRITERS send-instantly at once, $LEADS different leads each"
for i in $(seq 0 $((WRITERS - 1))); do people "$LEADS" $((300000 + i * 10000)) "$WORK/lead-$i.ndjson"; done
for cap in 50 100; do
  reset
  export CAP=$cap
  codes=$(together "$WRITERS" 'CMO_STATE_DIR=$WORK/instantly-$CAP send-instantly --campaign "$CAMPAIGN" --daily-new-leads "$CAP" -q --max-wait 30 <"$WORK/lead-$I.ndjson" >"$WORK/out-$CAP-$I.ndjson"')
  queued=$(cat "$WORK"/out-"$cap"-*.ndjson | jq -s '[.[] | select(.instantly.status == "queued")] | length')
  deferred=$(cat "$WORK"/out-"$cap"-*.ndjson | jq -s '[.[] | select(.instantly.status == "deferred")] | length')
  in_campaign=$(stat '[.writes[] | select(.service == "instantly")] | length')
  ledger=$(sql "$WORK/instantly-$cap/ledger.sqlite" "SELECT COUNT(*) FROM writes WHERE service = 'instantly' AND state = 'confirmed' AND day = '$(date -u +%F)'")
  per_day=$(sql "$WORK/instantly-$cap/ledger.sqlite" "SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM writes WHERE state = 'deferred' GROUP BY eligible_on)")
  echo "   cap $cap: queued $queued, leads written to the campaign $in_campaign, confirmed for today in the ledger $ledger, deferred $deferred (most on one later day: $per_day), violations $(violations instantly), exits $codes"
done
for i in $(seq 0 $((WRITERS - 1))); do cat "$WORK/lead-$i.ndjson"; done >"$WORK/lead-all.ndjson"
reset
s=$(now)
CMO_STATE_DIR=$WORK/instantly-alone send-instantly --campaign "$CAMPAIGN" --daily-new-leads 1000000 --batch-size 10 -q --max-wait 30 <"$WORK/lead-all.ndjson" >/dev/null
e=$(now)
R=$(stat '[.requests | to_entries[] | select(.key | startswith("instantly ")) | .value] | add // 0')
echo "   no cap, one alone: $((LEADS * WRITERS)) leads, $R requests in $(secs "$s" "$e") s ($(python3 -c "print(round($R / ($e - $s), 1))") requests/s), violations $(violations instantly)"
reset
s=$(now)
codes=$(together "$WRITERS" 'CMO_STATE_DIR=$WORK/instantly-many send-instantly --campaign "$CAMPAIGN" --daily-new-leads 1000000 --batch-size 10 -q --max-wait 30 <"$WORK/lead-$I.ndjson" >/dev/null')
e=$(now)
R=$(stat '[.requests | to_entries[] | select(.key | startswith("instantly ")) | .value] | add // 0')
echo "   no cap, $WRITERS at once: $((LEADS * WRITERS)) leads, $R requests in $(secs "$s" "$e") s ($(python3 -c "print(round($R / ($e - $s), 1))") requests/s), violations $(violations instantly), duplicates $(stat .duplicates_total), exits $codes"
stop_sandbox

echo "== 3. Linear, a budget of 40 requests per 10 s: $WRITERS sync-linear at once"
start_sandbox "$WORK/env" --seed 5 --repos 20 --users 20 --latency "*=$LATENCY" --linear-requests-per-hour 40 --linear-window-seconds 10
for i in $(seq 0 $((WRITERS - 1))); do errors 40 $((i * 1000)) "$WORK/errors-$i.ndjson"; done
s=$(now)
codes=$(together "$WRITERS" 'CMO_STATE_DIR=$WORK/linear sync-linear --team ENG --job lin-$I --batch-size 5 -q --max-wait 30 <"$WORK/errors-$I.ndjson" >/dev/null')
e=$(now)
echo "   $(stat '[.requests | to_entries[] | select(.key | startswith("linear ")) | .value] | add // 0') requests in $(secs "$s" "$e") s, violations $(violations linear), duplicates $(stat .duplicates_total), exits $codes"
stop_sandbox

echo "== 4. Mixed: $WRITERS sync-attio at once while a worker runs 2 queued goals writing to the same list"
NOW=2026-11-20T00:00:00Z
start_sandbox "$WORK/env" --repos 400 --users 600 --now "$NOW" --latency "*=$LATENCY"
LIST=$CMO_SANDBOX_ATTIO_LIST; export LIST
export CMO_STATE_DIR=$WORK/mixed CMO_RUNS_DIR=$WORK/runs
sed "s|\[../examples/templates\]|[$(pwd)/examples/templates]|" pipelines/demo-campaign.yaml >"$WORK/campaign.yaml"
for n in 1 2; do
  cmo-plan submit --yes --config "$WORK/campaign.yaml" --now "$NOW" \
    "Find 15 Python maintainers active in the last 90 days, add them to Attio list $LIST, export a CSV" >/dev/null 2>&1
done
cmo-plan worker --concurrency 2 >"$WORK/worker.log" 2>&1 &
WORKER=$!
codes=$(together "$WRITERS" 'sync-attio --list "$LIST" --job mixed-$I -q --max-wait 30 <"$WORK/each-$I.ndjson" >/dev/null')
for _ in $(seq 300); do
  left=$(cmo-plan list --json | jq -s '[.[] | select(.status != "done" and .status != "failed" and .status != "cancelled")] | length')
  [ "$left" = 0 ] && break
  sleep 1
done
kill "$WORKER" 2>/dev/null; wait "$WORKER" 2>/dev/null || true; WORKER=""
echo "   jobs: $(cmo-plan list --json | jq -s -c 'map(.status)'), writers' exits $codes, Attio writes $(stat '.quota_spent["attio/writes"] // 0'), violations $(stat .violations_total) $(stat -c '[.rate_limit_violations[] | "\(.service)/\(.bucket)"] | group_by(.) | map({(.[0]): length}) | add // {}'), duplicates $(stat .duplicates_total)"
stop_sandbox
unset CMO_STATE_DIR CMO_RUNS_DIR

echo "== 5. kill -9 among $WRITERS writers over the same records (one killed at random instants, restarted)"
start_sandbox "$WORK/env" --seed 5 --repos 20 --users 20 --latency "*=$LATENCY"
LIST=$CMO_SANDBOX_ATTIO_LIST CAMPAIGN=$CMO_SANDBOX_INSTANTLY_CAMPAIGN; export LIST CAMPAIGN
people "$LEADS" 500000 "$WORK/same-leads.ndjson"
people "$PEOPLE" 600000 "$WORK/same-people.ndjson"
# chaos_writers NAME CMD: WRITERS copies of CMD at once; every 0.1–0.5 s, one time in two, a random copy is killed with
# SIGKILL and started again, until each copy has once exited 0; prints kills and restarts.
chaos_writers() {
  local name=$1 cmd=$2 kills=0
  declare -A pid done
  # `exec`: the pid killed is the writer's own, not a shell's that would leave the writer running.
  for i in $(seq 0 $((WRITERS - 1))); do I=$i bash -c "exec $cmd" & pid[$i]=$!; done
  while :; do
    local left=0
    for i in $(seq 0 $((WRITERS - 1))); do
      [ -n "${done[$i]:-}" ] && continue
      if ! kill -0 "${pid[$i]}" 2>/dev/null; then
        if wait "${pid[$i]}"; then done[$i]=1; continue; fi
        I=$i bash -c "exec $cmd" & pid[$i]=$!   # killed (or failed): again
      fi
      left=$((left + 1))
    done
    [ "$left" = 0 ] && break
    sleep 0.$((RANDOM % 5 + 1))
    if [ $((RANDOM % 2)) = 0 ]; then
      local victim=$((RANDOM % WRITERS))
      if [ -z "${done[$victim]:-}" ] && kill -9 "${pid[$victim]}" 2>/dev/null; then kills=$((kills + 1)); fi
    fi
  done
  echo "$kills"
}
reset
kills=$(chaos_writers instantly 'env CMO_STATE_DIR=$WORK/chaos-i send-instantly --campaign "$CAMPAIGN" --daily-new-leads 1000000 --batch-size 1 -q --max-wait 30 <"$WORK/same-leads.ndjson" >/dev/null 2>>"$WORK/chaos-i.log"')
# A writer that finds a lead held by another live writer says `deferred: in_progress` and goes on; one
# run after the chaos settles what the killed ones held (as the runner's next pass would).
after=$(stat '[.writes[] | select(.service == "instantly") | .key] | unique | length')
CMO_STATE_DIR=$WORK/chaos-i send-instantly --campaign "$CAMPAIGN" --daily-new-leads 1000000 --batch-size 10 -q --max-wait 30 <"$WORK/same-leads.ndjson" >/dev/null 2>>"$WORK/chaos-i.log"
written=$(stat '[.writes[] | select(.service == "instantly")] | length')
distinct=$(stat '[.writes[] | select(.service == "instantly") | .key] | unique | length')
echo "   send-instantly: $kills kills; $LEADS leads wanted: $after in the campaign after the chaos, $distinct after one settling run ($written lead writes), duplicates $(stat .duplicates_total), violations $(violations instantly)"
reset
kills=$(chaos_writers attio 'env CMO_STATE_DIR=$WORK/chaos-a sync-attio --list "$LIST" --job same -q --max-wait 30 <"$WORK/same-people.ndjson" >/dev/null 2>>"$WORK/chaos-a.log"')
after="people $(stat .services.attio.records), notes $(stat .services.attio.notes)"
CMO_STATE_DIR=$WORK/chaos-a sync-attio --list "$LIST" --job same -q --max-wait 30 <"$WORK/same-people.ndjson" >/dev/null 2>>"$WORK/chaos-a.log"
echo "   sync-attio: $kills kills; $PEOPLE people wanted: after the chaos $after; after one settling run people $(stat .services.attio.records), notes $(stat .services.attio.notes), duplicate people $(stat .services.attio.duplicate_people), entries $(stat .services.attio.duplicate_list_entries), notes $(stat .services.attio.duplicate_notes), violations $(violations attio)"
