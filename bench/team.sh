#!/usr/bin/env bash
# A team of machines on one PostgreSQL database (CMO_DATABASE_URL), against the sandbox. A "machine" is a
# process with its own CMO_STATE_DIR: only the database (and, for the workers, a runs directory for the
# jobs' files) is shared. A real PostgreSQL server is started in a temporary directory (bin/pg-test-server)
# and stopped at the end; each part gets a database of its own.
#
#   bin/setup && bench/team.sh [1|2|3|all]   (default all; each part runs on its own)
#
# 1. Workers: 3 `cmo-plan worker`s (one state directory each) on 6 queued jobs that all write to the SAME
#    Instantly campaign (a daily cap smaller than the leads) and Attio list; one worker is killed with
#    SIGKILL twice and started again. Prints duplicates and missing leads (the sandbox's truth),
#    rate-limit violations, the leads in the campaign against the cap, and the take-over time after each
#    kill (from the kill to another worker starting a job the killed one held, read from the queue).
# 2. Two send-instantly at once, separate state directories, the same LEADS leads: the lead writes
#    Instantly received beyond the distinct leads (resubmissions), with the database (the shared ledger
#    stops them: 0) and with SQLite (each machine its own ledger). The sandbox records every lead a
#    leads/add body carries, whether or not Instantly's skip_if_in_campaign then skips it.
# 3. The database going away mid-run while a send-instantly writes: restarted at once (bin/pg-test-server
#    restart), then down for longer than CMO_DATABASE_RETRY; each time the writer's exit status and
#    message, then a re-run: leads missing, leads written twice.
#
# Environment: BIN (built products, default .build/debug), LEADS (part 2 and 3, default 2000), LATENCY (ms
# per answer, default 10), HANG (part 3: seconds after the server is back before a writer that has not
# ended is called hung and killed, default 120), KEEP (a directory to keep the work in).
set -euo pipefail
cd "$(dirname "$0")/.."
PART=${1:-all}
case $PART in 1 | 2 | 3 | all) ;; *) echo "usage: bench/team.sh [1|2|3|all]" >&2; exit 64;; esac
BIN=${BIN:-$(pwd)/.build/debug}
[ -x "$BIN/cmo-plan" ] || { echo "bench: run bin/setup first (no cmo-plan in $BIN)" >&2; exit 69; }
LEADS=${LEADS:-2000}
LATENCY=${LATENCY:-10}
HANG=${HANG:-120}
WORK=${KEEP:-$(mktemp -d /tmp/cmo-bench-team.XXXXXX)}
mkdir -p "$WORK"
PSQL=""
for d in /usr/lib/postgresql/*/bin; do [ -x "$d/psql" ] && PSQL=$d/psql; done
[ -n "$PSQL" ] || { echo "bench: PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 69; }
# The server's directory directly under /tmp: run as root, the server runs as `postgres`, which must reach it
# (a directory inside $WORK, mode 0700, it could not).
SANDBOX=$BIN/cmo-sandbox SANDBOX_PID="" PG=$(mktemp -d /tmp/cmo-bench-pg.XXXXXX)
declare -A WORKERS=()
cleanup() {
  for p in "${WORKERS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  [ -n "$SANDBOX_PID" ] && kill "$SANDBOX_PID" 2>/dev/null
  [ -d "$PG/data" ] && bin/pg-test-server stop "$PG" >/dev/null 2>&1
  rm -rf "$PG"
  [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
. bench/lib.sh # start_sandbox, stop_sandbox
export PATH=$BIN:$PATH

SERVER_URL=$(bin/pg-test-server start "$PG")
# database NAME: a fresh database on the server; prints its URL.
database() {
  "$PSQL" "$SERVER_URL" -qAt -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null
  echo "${SERVER_URL%/*}/$1"
}

# people N FROM FILE: N leads as send-instantly reads them, numbered from FROM.
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

stat() { curl -s "$CMO_SANDBOX_URL/_sandbox/stats" | jq "$@"; }
reset() { curl -s -X POST "$CMO_SANDBOX_URL/_sandbox/reset" >/dev/null; }
now() { date +%s.%N; }
secs() { python3 -c "print(round($2 - $1, 1))"; }
# lead_writes: lead writes Instantly received; distinct_leads: distinct (campaign, email) among them;
# created_leads: leads Instantly stored (each email once, whoever sent it).
lead_writes() { stat '[.writes[] | select(.service == "instantly" and .kind == "lead")] | length'; }
distinct_leads() { stat '[.writes[] | select(.service == "instantly" and .kind == "lead") | .key] | unique | length'; }
created_leads() { stat '[.writes[] | select(.service == "instantly" and .kind == "lead" and .payload.outcome == "created") | .key] | unique | length'; }
created_twice() { stat '[.writes[] | select(.service == "instantly" and .kind == "lead" and .payload.outcome == "created") | .key] | group_by(.) | map(select(length > 1)) | length'; }
# two_writers LABEL STATE_A STATE_B [DATABASE_URL]: two send-instantly at once on the same leads.
two_writers() {
  local label=$1 a=$2 b=$3 url=${4:-} codes=()
  reset
  local pids=()
  for s in "$a" "$b"; do
    CMO_DATABASE_URL=$url CMO_STATE_DIR=$s send-instantly --campaign "$CAMPAIGN" --daily-new-leads 1000000 --batch-size 10 \
      -q --max-wait 30 <"$WORK/leads.ndjson" >/dev/null 2>>"$WORK/two-$label.log" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do if wait "$p"; then codes+=(0); else codes+=($?); fi; done
  local w d
  w=$(lead_writes) d=$(distinct_leads)
  echo "   $label: $LEADS leads, $w lead writes received, $d distinct: resubmissions $((w - d)); leads Instantly stored $(created_leads) (stored twice: $(created_twice)), exits ${codes[*]}"
}

part1() {
  local url jobs=6 cap=${CAP:-15} n
  url=$(database team1)
  NOW=2026-11-20T00:00:00Z
  start_sandbox "$WORK/env1" --repos 3000 --users 4500 --now "$NOW" --latency "*=$LATENCY"
  local runs=$WORK/runs1
  sed "s|\[../examples/templates\]|[$(pwd)/examples/templates]|" pipelines/demo-campaign.yaml >"$WORK/campaign.yaml"
  printf 'send-instantly:\n  daily-new-leads: %s\n' "$cap" >>"$WORK/campaign.yaml"
  echo "== 1. 3 workers (own state dirs, one database, one runs dir) on $jobs jobs into one campaign (daily cap $cap) and one Attio list; one worker kill -9'd twice"
  for i in $(seq 1 $jobs); do
    n=$((10 + i * 5))
    CMO_DATABASE_URL=$url CMO_STATE_DIR=$WORK/m0 CMO_RUNS_DIR=$runs cmo-plan submit --yes --config "$WORK/campaign.yaml" --now "$NOW" \
      "Find $n Python maintainers active in the last 90 days, queue them in Instantly campaign $CMO_SANDBOX_INSTANTLY_CAMPAIGN, add them to Attio list $CMO_SANDBOX_ATTIO_LIST, export a CSV" \
      >>"$WORK/submit.log" 2>&1
  done
  worker() { # worker I: machine I's worker, its log in worker-I.log
    CMO_DATABASE_URL=$url CMO_STATE_DIR=$WORK/m$1 CMO_RUNS_DIR=$runs CMO_MAX_WAIT=5 \
      cmo-plan worker --concurrency 2 >>"$WORK/worker-$1.log" 2>&1 &
    WORKERS[$1]=$!
  }
  for i in 1 2 3; do worker "$i"; done
  list() { CMO_DATABASE_URL=$url CMO_STATE_DIR=$WORK/m0 CMO_RUNS_DIR=$runs cmo-plan list --json 2>/dev/null; }
  # left: jobs still to settle (a job asleep for over an hour waits for tomorrow's cap: settled for today).
  left() {
    list | jq -s '[.[] | select(.status != "done" and .status != "failed" and .status != "cancelled")
      | select(.status != "sleeping" or ((.not_before // "1970-01-01T00:00:00Z") | sub("\\.[0-9]+Z$"; "Z") | fromdate) < now + 3600)] | length'
  }
  local takeovers=()
  # running_on W: a job worker W is running now (the last line its log has about the job is its start).
  running_on() {
    python3 - "$WORK/worker-$1.log" <<'PY'
import re, sys
last = {}
for line in open(sys.argv[1], errors="replace"):
    m = re.match(r"cmo-plan: job (\S+): (\w+)", line)
    if m: last[m.group(1)] = m.group(2)
print(next((j for j, what in last.items() if what == "started"), ""))
PY
  }
  for round in 1 2; do
    # Kill worker 1 while it holds a job: wait until its log says it started one that is still running.
    local held="" t0
    for _ in $(seq 1500); do
      held=$(running_on 1)
      [ -n "$held" ] && break
      [ "$(left)" = 0 ] && break
      sleep 0.2
    done
    [ -n "$held" ] || { echo "   kill $round: worker 1 held no running job (all done?)"; break; }
    local before
    before=$(cat "$WORK"/worker-2.log "$WORK"/worker-3.log 2>/dev/null | grep -c "job $held: started" || true)
    t0=$(now)
    kill -9 "${WORKERS[1]}"; wait "${WORKERS[1]}" 2>/dev/null || true
    local took=""
    for _ in $(seq 1200); do
      if [ "$(cat "$WORK"/worker-2.log "$WORK"/worker-3.log 2>/dev/null | grep -c "job $held: started" || true)" -gt "$before" ]; then
        took=$(secs "$t0" "$(now)"); break
      fi
      sleep 0.1
    done
    takeovers+=("kill $round: job $held taken over in ${took:-(not within 120)} s")
    "$PSQL" "$url" -qAt -c "SELECT 'queue row: ' || row_to_json(j)::text FROM jobs j WHERE id = '$held'" 2>/dev/null | sed 's/^/   /' || true
    worker 1
  done
  for _ in $(seq 900); do [ "$(left)" = 0 ] && break; sleep 1; done
  for i in 1 2 3; do kill "${WORKERS[$i]}" 2>/dev/null || true; wait "${WORKERS[$i]}" 2>/dev/null || true; done
  WORKERS=()
  local wanted deferred in_campaign in_list
  # The people the jobs meant to write (their render-copy output), each once; those a send deferred to a
  # later day (the cap); what the campaign and the list hold.
  wanted=$(cat "$runs"/*/artifacts/*-render-copy.ndjson 2>/dev/null | jq -r 'select(.kind == "person") | (.best_email // empty) | ascii_downcase' | sort -u | wc -l)
  # Deferred: the shared ledger's rows still waiting for a later day (a person one job deferred and another
  # sent counts once, as sent).
  deferred=$("$PSQL" "$url" -qAt -c "SELECT COUNT(*) FROM writes WHERE service = 'instantly' AND state = 'deferred'" 2>/dev/null || echo 0)
  in_campaign=$(created_leads)
  in_list=$(stat .services.attio.list_entries)
  echo "   jobs: $(list | jq -s -c 'map(.status) | group_by(.) | map({(.[0]): length}) | add')"
  printf '   %s\n' "${takeovers[@]}"
  echo "   people to write $wanted; Instantly: $in_campaign in the campaign against the daily cap $cap ($( [ "$in_campaign" -eq "$cap" ] && echo "held exactly" || { [ "$in_campaign" -lt "$cap" ] && echo under || echo EXCEEDED; })), $deferred deferred to a later day, missing $((wanted - in_campaign - deferred)), lead writes beyond distinct $(( $(lead_writes) - $(distinct_leads) ))"
  # The pipeline syncs to Attio the leads it sent today: the list should hold the campaign's leads.
  echo "   Attio list entries $in_list for the $in_campaign sent (missing $((in_campaign - in_list)))," \
    "duplicates $(stat .duplicates_total) (people $(stat .services.attio.duplicate_people), entries $(stat .services.attio.duplicate_list_entries), notes $(stat .services.attio.duplicate_notes)), rate-limit violations $(stat .violations_total)$(curl -fsS "$CMO_SANDBOX_URL/_sandbox/stats" 2>/dev/null | jq -r '[.rate_limit_violations[]? | "\(.service)/\(.bucket): \(.detail)"] | group_by(.) | map(" [\(length)× \(.[0])]") | join("")' 2>/dev/null)"
  stop_sandbox
}

part2() {
  start_sandbox "$WORK/env2" --seed 5 --repos 20 --users 20 --latency "*=$LATENCY"
  CAMPAIGN=$CMO_SANDBOX_INSTANTLY_CAMPAIGN
  people "$LEADS" 700000 "$WORK/leads.ndjson"
  echo "== 2. 2 send-instantly at once, separate state directories, the same $LEADS leads"
  two_writers "PostgreSQL (one shared ledger)" "$WORK/p2a" "$WORK/p2b" "$(database team2)"
  two_writers "SQLite (a ledger per machine)" "$WORK/s2a" "$WORK/s2b"
  stop_sandbox
}

part3() {
  start_sandbox "$WORK/env3" --seed 5 --repos 20 --users 20 --latency "*=$LATENCY"
  CAMPAIGN=$CMO_SANDBOX_INSTANTLY_CAMPAIGN
  echo "== 3. The database goes away while send-instantly writes $LEADS leads (batches of 1), then a re-run"
  outage "restarted (immediate stop, start at once)" 0 30 800000
  outage "down 10 s, longer than CMO_DATABASE_RETRY=5" 10 5 900000
  stop_sandbox
}

# outage LABEL DOWN RETRY FROM: a writer on LEADS fresh leads numbered from FROM, the server stopped
# (immediate: connections cut as in a crash) once a quarter are in, started again after DOWN seconds on
# the same port; the writer with CMO_DATABASE_RETRY=RETRY. Then the same run again.
outage() {
  local label=$1 down=$2 retry=$3 from=$4 url code=0 s pid r0 r1
  url=$(database "team3_$from")
  people "$LEADS" "$from" "$WORK/leads3.ndjson"
  reset
  s=$(now)
  CMO_DATABASE_RETRY=$retry CMO_DATABASE_URL=$url CMO_STATE_DIR=$WORK/r3-$from send-instantly --campaign "$CAMPAIGN" \
    --daily-new-leads 1000000 --batch-size 1 --max-wait 30 <"$WORK/leads3.ndjson" >"$WORK/r3-out.ndjson" 2>"$WORK/r3-$from.log" &
  pid=$!
  for _ in $(seq 1200); do [ "$(lead_writes)" -ge $((LEADS / 4)) ] && break; sleep 0.1; done
  r0=$(now)
  if [ "$down" = 0 ]; then
    bin/pg-test-server restart "$PG" >/dev/null
  else
    bin/pg-test-server stop "$PG" >/dev/null
    sleep "$down"
    bin/pg-test-server restart "$PG" >/dev/null # nothing left to stop: starts it again on the same port
  fi
  r1=$(now)
  # A writer that neither finishes nor gives up within HANG seconds of the server's return is hung:
  # it is killed (137) and said so, and the re-run below shows what that cost.
  local hung=""
  for _ in $(seq $((HANG * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then hung=" (HUNG: no exit ${HANG} s after the server came back; killed)"; kill -9 "$pid"; fi
  if wait "$pid" 2>/dev/null; then code=0; else code=$?; fi
  local said
  said=$({ grep -iE "database|postgres|connection" "$WORK/r3-$from.log" || true; } | tail -2 | cut -c1-240 | tr '\n' ' ')
  echo "   $label: the server was back after $(secs "$r0" "$r1") s; the writer exited $code$hung after $(secs "$s" "$(now)") s, $(jq -s 'length' "$WORK/r3-out.ndjson") leads out, $(created_leads) in the campaign; it said: ${said:-nothing about the database}"
  CMO_DATABASE_URL=$url CMO_STATE_DIR=$WORK/r3-$from send-instantly --campaign "$CAMPAIGN" --daily-new-leads 1000000 --batch-size 10 \
    -q --max-wait 30 <"$WORK/leads3.ndjson" >/dev/null 2>>"$WORK/r3-$from.log" && code=0 || code=$?
  local d w
  d=$(created_leads) w=$(lead_writes)
  echo "   re-run exited $code: $d of $LEADS leads in the campaign (missing $((LEADS - d))), stored twice $(created_twice), lead writes $w (resubmissions $((w - $(distinct_leads))))"
}

case $PART in
  1) part1 ;;
  2) part2 ;;
  3) part3 ;;
  all) part1; part2; part3 ;;
esac
