#!/usr/bin/env bash
# Writes happen once: sync-attio against the sandbox's Attio, measured.
#
#   bin/setup && bench/sync-attio.sh [N=2000] [KILLS=20] [N_CHAOS=500]
#
# 1. kill -9 at KILLS random instants of an N-lead run (--list, --entry-value, a note per person;
#    2% 429s), re-running after each kill until a run completes: duplicate people, list entries and
#    notes in the sandbox, people missing, suppressed people written, and the ledger against Attio.
#    So that 20 kills spread over the run, this part lets the sandbox and the client do 100 writes/s
#    (Attio documents 25; part 2 and 3 use 25).
# 2. chaos (10% 5xx, 2% 429 with Retry-After as an HTTP date and as seconds, 1% resets, 2% truncated
#    bodies) over N_CHAOS leads at Attio's documented 25 writes/s: re-runs until done; rate-limit
#    violations; duplicates.
# 3. requests per lead: a clean run of N_CHAOS leads, then a warm re-run of the same job.
#
# Environment: BIN (built products; default .build/release, else .build/debug).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-$(pwd)/.build/release}
[ -x "$BIN/sync-attio" ] || BIN=$(pwd)/.build/debug
[ -x "$BIN/sync-attio" ] || { echo "bench: run bin/setup first (no sync-attio in $BIN)" >&2; exit 69; }
N=${1:-2000}
KILLS=${2:-20}
N_CHAOS=${3:-500}
WORK=${KEEP:-$(mktemp -d /tmp/cmo-bench-attio.XXXXXX)}
mkdir -p "$WORK"
SANDBOX=$BIN/cmo-sandbox SANDBOX_PID=""
trap '[ -n "$SANDBOX_PID" ] && kill "$SANDBOX_PID" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
. bench/lib.sh # start_sandbox, stop_sandbox
export PATH=$BIN:$PATH

# leads N FILE: N leads as send-instantly writes them (one in 50 suppressed by email, one in 70 by login).
leads() {
  python3 - "$1" "$2" <<'EOF'
import json, sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    for i in range(n):
        email = f"Dev{i}@acme{i % 37}.co.uk"
        f.write(json.dumps({
            "kind": "person", "id": 20_000 + i, "login": f"dev{i}", "name": f"Dev Number{i}", "company": "@acme",
            "best_email": email, "copy": {"subject": f"tool{i} and flaky CI", "body": "Hi", "variant": "AB"[i % 2]},
            "instantly": {"status": "queued", "campaign_id": "bench-campaign", "lead_id": f"lead-{i}"},
        }) + "\n")
EOF
}

suppress() {
  local state=$1 n=$2
  python3 -c "
for i in range($n):
    if i % 50 == 3: print(f'dev{i}@acme{i % 37}.co.uk')
    if i % 70 == 11: print(f'@dev{i}')
" | CMO_STATE_DIR=$state xargs cmo-suppress add --reason bench -q
}

stat() { curl -s "$CMO_SANDBOX_URL/_sandbox/stats" | jq "$@"; }
attio_stats() { stat -c '.services.attio | {records, list_entries, notes, duplicate_people, duplicate_list_entries, duplicate_notes, records_with_several_notes, rejected_429}'; }
attio_writes() { stat '[.requests | to_entries[] | select((.key | startswith("attio PUT")) or (.key | startswith("attio POST"))) | .value] | add // 0'; }
attio_requests() { stat '[.requests | to_entries[] | select(.key | startswith("attio ")) | .value] | add // 0'; }

# verify STATE N LABEL: duplicates in the sandbox, people missing or suppressed, ledger agreement.
verify() {
  local state=$1 n=$2 label=$3
  local all=() page
  python3 - "$state/ledger.sqlite" "$n" "$label" "$(attio_stats)" <<'EOF'
import json, sqlite3, sys
ledger, n, label, stats = sys.argv[1], int(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])
expected = {f"dev{i}@acme{i % 37}.co.uk" for i in range(n) if not (i % 50 == 3 or i % 70 == 11)}
db = sqlite3.connect(ledger)
people = dict(db.execute("SELECT subject, remote_id FROM writes WHERE key LIKE 'attio:person:%' AND state='confirmed'"))
entries = db.execute("SELECT COUNT(*) FROM writes WHERE key LIKE 'attio:entry:%' AND state='confirmed'").fetchone()[0]
notes = db.execute("SELECT COUNT(*) FROM writes WHERE key LIKE 'attio:note:%' AND state='confirmed'").fetchone()[0]
missing = len(expected - set(people))
suppressed = len(set(people) - expected)
dupes = stats["duplicate_people"] + stats["duplicate_list_entries"] + stats["duplicate_notes"]
agree = stats["records"] == len(expected) and stats["list_entries"] == len(expected) and stats["notes"] == len(expected) \
    and entries == len(expected) and notes == len(expected)
print(f"{label}: {len(expected)} people expected; sandbox {stats}; ledger people {len(people)}, entries {entries}, notes {notes}; "
      f"missing {missing}, suppressed written {suppressed}, duplicates {dupes}, ledger agrees {agree}")
sys.exit(0 if dupes == 0 and missing == 0 and suppressed == 0 and agree else 1)
EOF
}

ARGS=(--list outbound_developers --entry-value 'stage="Contacted"' --entry-value 'campaign=.instantly.campaign_id' --job bench-job -q --max-wait 30)

echo "== 1. kill -9 at $KILLS random instants of a $N-lead run (--list, --entry-value, --note; 2% 429s; 100 writes/s)"
leads "$N" "$WORK/leads.ndjson"
start_sandbox "$WORK/env" --seed 7 --repos 20 --users 20 --429-rate attio=0.02 --attio-writes-per-second 100 --attio-reads-per-second 400
STATE=$WORK/state-kill
suppress "$STATE" "$N"
export CMO_ATTIO_WRITES_PER_SECOND=100 CMO_ATTIO_READS_PER_SECOND=400
killed=0 runs=0 start=$(date +%s.%N)
while [ "$killed" -lt "$KILLS" ]; do
  CMO_STATE_DIR=$STATE sync-attio "${ARGS[@]}" --batch-size 25 < "$WORK/leads.ndjson" > "$WORK/out-$runs.ndjson" 2>>"$WORK/kill.log" &
  pid=$!
  runs=$((runs + 1))
  sleep "$(python3 -c 'import random; print(round(random.uniform(0.3, 3.0), 3))')"
  if kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid"; wait "$pid" 2>/dev/null || true
    killed=$((killed + 1))
  else
    wait "$pid" || true
    break
  fi
done
final=1
for _ in 1 2 3 4 5; do
  runs=$((runs + 1))
  if CMO_STATE_DIR=$STATE sync-attio "${ARGS[@]}" < "$WORK/leads.ndjson" > "$WORK/final.ndjson" 2>>"$WORK/kill.log"; then final=0; break; fi
done
end=$(date +%s.%N)
unset CMO_ATTIO_WRITES_PER_SECOND CMO_ATTIO_READS_PER_SECOND
echo "kills that hit a running process: $killed; runs: $runs; last run exit $final; $(python3 -c "print(round($end - $start, 1))") s in all"
echo "final run's statuses: $(jq -r '.attio.status + (if .attio.already then " already" else "" end) + (if .attio.recovered then " recovered" else "" end)' "$WORK/final.ndjson" | sort | uniq -c | tr '\n' ' ')"
echo "notes found again by their cmo-key after a kill (all runs): $(cat "$WORK"/out-*.ndjson "$WORK/final.ndjson" | jq -r 'select(.attio.recovered == true) | .id' | sort -u | wc -l)"
echo "rate-limit violations: $(stat .violations_total)"
verify "$STATE" "$N" "kill -9" || echo "FAIL: duplicates, gaps, or the ledger disagrees with Attio"
stop_sandbox

echo "== 2. chaos over $N_CHAOS leads: 10% 5xx, 2% 429 (HTTP date and seconds), 1% resets, 2% truncated bodies; 25 writes/s"
leads "$N_CHAOS" "$WORK/chaos-leads.ndjson"
start_sandbox "$WORK/env" --seed 8 --repos 20 --users 20 \
  --fail-rate attio=0.10 --429-rate attio=0.02 --reset-rate attio=0.01 --truncate-rate attio=0.02
STATE=$WORK/state-chaos
suppress "$STATE" "$N_CHAOS"
runs=0 status=1 start=$(date +%s.%N)
while [ "$status" != 0 ] && [ "$runs" -lt 10 ]; do
  runs=$((runs + 1))
  status=0
  CMO_STATE_DIR=$STATE sync-attio "${ARGS[@]}" < "$WORK/chaos-leads.ndjson" > "$WORK/chaos.ndjson" 2>>"$WORK/chaos.log" || status=$?
done
end=$(date +%s.%N)
echo "runs to complete: $runs (last exit $status), $(python3 -c "print(round($end - $start, 1))") s; rate-limit violations $(stat .violations_total); faults injected $(stat -c '.faults_injected.attio // {}')"
echo "statuses: $(jq -r '.attio.status' "$WORK/chaos.ndjson" | sort | uniq -c | tr '\n' ' ')"
verify "$STATE" "$N_CHAOS" "chaos" || echo "FAIL: duplicates, gaps, or the ledger disagrees with Attio"
stop_sandbox

echo "== 3. requests per lead: a clean run of $N_CHAOS leads, then a warm re-run of the same job (25 writes/s)"
start_sandbox "$WORK/env" --seed 9 --repos 20 --users 20
STATE=$WORK/state-clean
suppress "$STATE" "$N_CHAOS"
start=$(date +%s.%N)
CMO_STATE_DIR=$STATE sync-attio "${ARGS[@]}" < "$WORK/chaos-leads.ndjson" > "$WORK/clean.ndjson"
end=$(date +%s.%N)
synced=$(jq -r 'select(.attio.status == "synced") | .id' "$WORK/clean.ndjson" | wc -l)
req=$(attio_requests) writes=$(attio_writes)
echo "clean: $synced people synced in $(python3 -c "print(round($end - $start, 2))") s; $req Attio requests ($writes writes) = $(python3 -c "print(round($req / $synced, 3))") per person ($(python3 -c "print(round($writes / $synced, 3))") writes); violations $(stat .violations_total)"
echo "   requests: $(stat -c '[.requests | to_entries[] | select(.key | startswith("attio "))] | from_entries')"
CMO_STATE_DIR=$STATE sync-attio "${ARGS[@]}" < "$WORK/chaos-leads.ndjson" > "$WORK/warm.ndjson"
req2=$(attio_requests) writes2=$(attio_writes)
echo "warm re-run: $((req2 - req)) Attio requests ($((writes2 - writes)) writes) = $(python3 -c "print(round(($writes2 - $writes) / $synced, 3))") writes per person; $(jq -r '.attio.status + (if .attio.already then " already" else "" end)' "$WORK/warm.ndjson" | sort | uniq -c | tr '\n' ' ')"
stop_sandbox
