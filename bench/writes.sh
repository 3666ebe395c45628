#!/usr/bin/env bash
# Writes happen once: send-instantly against the sandbox's Instantly, measured.
#
#   bin/setup && bench/writes.sh [N=2000] [KILLS=20]
#
# 1. kill -9 at KILLS random instants of an N-lead run (50 ms per answer, 2% 429s), re-running after
#    each kill until a run completes: duplicates, missing leads and leads for suppressed people in
#    the sandbox's campaign, and whether the ledger agrees with the sandbox lead for lead.
# 2. chaos (10% 5xx, 2% 429, 1% connection resets, 1% truncated bodies): re-runs until done; rate-limit
#    violations; every lead queued or with a reason.
# 3. a clean run of 10,000 leads: requests per 1,000 leads and wall time.
# 4. --dry-run over N leads: writes the sandbox received.
#
# Environment: BIN (built products, default .build/release), LATENCY (ms per Instantly answer, default 50).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-$(pwd)/.build/release}
[ -x "$BIN/send-instantly" ] || { echo "bench: run bin/setup first (no send-instantly in $BIN)" >&2; exit 69; }
N=${1:-2000}
KILLS=${2:-20}
LATENCY=${LATENCY:-50}
WORK=${KEEP:-$(mktemp -d /tmp/cmo-bench-writes.XXXXXX)}
mkdir -p "$WORK"
SANDBOX=$BIN/cmo-sandbox SANDBOX_PID=""
trap '[ -n "$SANDBOX_PID" ] && kill "$SANDBOX_PID" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
. bench/lib.sh # start_sandbox, stop_sandbox
export PATH=$BIN:$PATH

# leads N FILE: N leads as render-copy writes them (one in 40 with a suppressed address, domain or login).
leads() {
  python3 - "$1" "$2" <<'EOF'
import json, sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    for i in range(n):
        domain = "optout.example" if i % 120 == 7 else "example.org"
        email = f"dev{i}@{domain}"
        f.write(json.dumps({
            "kind": "person", "id": 10_000 + i, "login": f"dev{i}", "name": f"Dev Number{i}", "company": "@acme",
            "best_email": email, "email_checks": [{"address": email, "verdict": "safe"}],
            "emails": [{"address": email, "source": "commit", "evidence": f"acme/tool{i}@abc{i:05d}"}],
            "copy": {"subject": f"tool{i} and flaky CI", "template": "intro", "variant": "AB"[i % 2],
                     "body": f"Hi Dev,\n\ntool{i} caught my eye.\n\nUnsubscribe: https://example.org/u?e={i}\n"},
        }) + "\n")
EOF
}

# suppress STATE: one in 120 leads by domain, one in 100 by email, one in 150 by login.
suppress() {
  local state=$1
  CMO_STATE_DIR=$state cmo-suppress add domain:optout.example --reason bench -q
  python3 -c "
import sys
for i in range(0, $N):
    if i % 100 == 3: print(f'dev{i}@example.org')
    if i % 150 == 11: print(f'@dev{i}')
" | CMO_STATE_DIR=$state xargs cmo-suppress add --reason bench -q
}

# expected FILE STATE: the emails that must end up in the campaign (not suppressed).
expected() {
  python3 - "$1" "$N" <<'EOF'
import sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    for i in range(n):
        if i % 120 == 7 or i % 100 == 3 or i % 150 == 11: continue
        f.write(f"dev{i}@example.org\n")
EOF
}

campaign_id() {
  local page=""
  for _ in $(seq 50); do
    page=$(curl -s -H "Authorization: Bearer $INSTANTLY_API_KEY" "$INSTANTLY_API_URL/api/v2/campaigns?limit=100" || true)
    echo "$page" | jq -e '.items | type == "array"' >/dev/null 2>&1 && break
    sleep 0.2
  done
  echo "$page" | jq -r '[.items[] | select(.status == 1 and (.sequences | tostring | contains("cmo_subject")))][0].id'
}

# campaign_leads ID FILE: every lead of the campaign as "email id" lines (leads/list, paged).
campaign_leads() {
  local id=$1 out=$2 cursor=""
  : > "$out"
  while :; do
    local body
    if [ -n "$cursor" ]; then body=$(jq -nc --arg c "$id" --arg s "$cursor" '{campaign:$c, limit:100, starting_after:$s}')
    else body=$(jq -nc --arg c "$id" '{campaign:$c, limit:100}'); fi
    local page=""
    for _ in $(seq 50); do # the sandbox's faults hit the bench's own reads too: ask again
      page=$(curl -s -X POST -H "Authorization: Bearer $INSTANTLY_API_KEY" -H 'Content-Type: application/json' --data-binary "$body" \
        "$INSTANTLY_API_URL/api/v2/leads/list" || true)
      echo "$page" | jq -e '.items | type == "array"' >/dev/null 2>&1 && break
      sleep 0.2
    done
    echo "$page" | jq -r '.items[] | "\(.email) \(.id)"' >> "$out"
    [ "$(echo "$page" | jq '.items | length')" = 100 ] || break
    cursor=$(echo "$page" | jq -r '.next_starting_after // empty')
    [ -n "$cursor" ] || break
  done
}

# verify CAMPAIGN STATE LABEL: duplicates, missing, suppressed sent, ledger agreement.
verify() {
  local id=$1 state=$2 label=$3
  campaign_leads "$id" "$WORK/stored"
  expected "$WORK/expected"
  python3 - "$WORK/stored" "$WORK/expected" "$state/ledger.sqlite" "$id" "$label" <<'EOF'
import sqlite3, sys, collections
stored_path, expected_path, ledger_path, campaign, label = sys.argv[1:]
stored = [l.split() for l in open(stored_path) if l.strip()]
emails = collections.Counter(e for e, _ in stored)
expected = set(l.strip() for l in open(expected_path) if l.strip())
dupes = sum(c - 1 for c in emails.values() if c > 1)
missing = len(expected - set(emails))
suppressed = len(set(emails) - expected)
db = sqlite3.connect(ledger_path)
rows = dict(db.execute("SELECT subject, remote_id FROM writes WHERE service='instantly' AND target=? AND state='confirmed'", (campaign,)))
states = dict(db.execute("SELECT state, COUNT(*) FROM writes WHERE target=? GROUP BY state", (campaign,)))
ids = {e: i for e, i in stored}
disagree = sum(1 for e in set(rows) | set(ids) if rows.get(e) != ids.get(e))
print(f"{label}: {len(stored)} leads in the campaign, {len(expected)} expected; duplicates {dupes}, missing {missing}, "
      f"suppressed people sent {suppressed}; ledger {dict(sorted(states.items()))}, disagreeing with the sandbox on {disagree}")
sys.exit(0 if dupes == 0 and missing == 0 and suppressed == 0 and disagree == 0 else 1)
EOF
}

stat() { curl -s "$CMO_SANDBOX_URL/_sandbox/stats" | jq "$@"; }
instantly_requests() { stat '[.requests | to_entries[] | select(.key | startswith("instantly ")) | .value] | add // 0'; }
instantly_writes() { stat '[.requests | to_entries[] | select((.key | startswith("instantly POST")) and (.key | contains("leads/list") | not)) | .value] | add // 0'; }

leads "$N" "$WORK/leads.ndjson"
SEND_ARGS=(--daily-new-leads 1000000 --batch-size 50 -q --max-wait 30)
campaign_stats() { stat -c --arg id "$CAMPAIGN" '.services.instantly.campaigns[$id] | {leads, distinct_emails, duplicate_leads, resubmissions}'; }

echo "== 1. kill -9 at $KILLS random instants of a $N-lead run (+${LATENCY} ms, 2% 429s, batches of 10)"
start_sandbox "$WORK/env" --seed 7 --repos 20 --users 20 --latency "instantly=$LATENCY" --429-rate instantly=0.02
CAMPAIGN=$(campaign_id)
STATE=$WORK/state-kill
export CMO_STATE_DIR=$STATE
suppress "$STATE"
KILL_ARGS=(--daily-new-leads 1000000 --batch-size 10 -q --max-wait 30)
killed=0 runs=0 start=$(date +%s.%N)
while [ "$killed" -lt "$KILLS" ]; do
  send-instantly --campaign "$CAMPAIGN" "${KILL_ARGS[@]}" < "$WORK/leads.ndjson" > "$WORK/out-$runs.ndjson" 2>>"$WORK/kill.log" &
  pid=$!
  runs=$((runs + 1))
  sleep "$(python3 -c 'import random; print(round(random.uniform(0.02, 0.8), 3))')"
  if kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid"; wait "$pid" 2>/dev/null || true
    killed=$((killed + 1))
  else
    wait "$pid" || true
    # Finished before the kill: a fresh campaign state would be needed for more kills; count and go on.
    break
  fi
done
final=1
for _ in 1 2 3 4 5; do
  runs=$((runs + 1))
  if send-instantly --campaign "$CAMPAIGN" "${KILL_ARGS[@]}" < "$WORK/leads.ndjson" > "$WORK/final.ndjson" 2>>"$WORK/kill.log"; then final=0; break; fi
done
end=$(date +%s.%N)
echo "kills that hit a running process: $killed; runs: $runs; last run exit $final; $(python3 -c "print(round($end - $start, 1))") s in all"
echo "final run's statuses: $(jq -r '.instantly.status' "$WORK/final.ndjson" | sort | uniq -c | tr '\n' ' ')"
echo "sandbox: campaign $(campaign_stats), rate-limit violations $(stat .violations_total)"
verify "$CAMPAIGN" "$STATE" "kill -9" || echo "FAIL: the campaign and the ledger disagree with what was asked"
unset CMO_STATE_DIR
stop_sandbox

echo "== 2. chaos: 10% 5xx, 2% 429, 1% resets, 1% truncated bodies (+${LATENCY} ms)"
start_sandbox "$WORK/env" --seed 8 --repos 20 --users 20 --latency "instantly=$LATENCY" \
  --fail-rate instantly=0.10 --429-rate instantly=0.02 --reset-rate instantly=0.01 --truncate-rate instantly=0.01
CAMPAIGN=$(campaign_id)
STATE=$WORK/state-chaos
suppress "$STATE"
runs=0 status=1 start=$(date +%s.%N)
while [ "$status" != 0 ] && [ "$runs" -lt 10 ]; do
  runs=$((runs + 1))
  status=0
  CMO_STATE_DIR=$STATE send-instantly --campaign "$CAMPAIGN" "${SEND_ARGS[@]}" --dead-letter "$WORK/chaos-dead.ndjson" \
    < "$WORK/leads.ndjson" > "$WORK/chaos.ndjson" 2>>"$WORK/chaos.log" || status=$?
done
end=$(date +%s.%N)
export CMO_STATE_DIR=$STATE
echo "runs to complete: $runs (last exit $status), $(python3 -c "print(round($end - $start, 1))") s; violations $(stat .violations_total); faults injected $(stat -c '.faults_injected.instantly // {}')"
echo "sandbox: campaign $(campaign_stats)"
echo "statuses: $(jq -r '.instantly.status + " " + (.instantly.reason // "")' "$WORK/chaos.ndjson" | sort | uniq -c | tr '\n' ' ')"
echo "dead-lettered: $(cat "$WORK/chaos-dead.ndjson" 2>/dev/null | wc -l)"
verify "$CAMPAIGN" "$STATE" "chaos" || echo "FAIL: the campaign and the ledger disagree with what was asked"
unset CMO_STATE_DIR
stop_sandbox

echo "== 3. a clean run of 10,000 leads (+${LATENCY} ms, batches of 1,000)"
leads 10000 "$WORK/leads10k.ndjson"
start_sandbox "$WORK/env" --seed 9 --repos 20 --users 20 --latency "instantly=$LATENCY"
CAMPAIGN=$(campaign_id)
start=$(date +%s.%N)
CMO_STATE_DIR=$WORK/state-clean send-instantly --campaign "$CAMPAIGN" --daily-new-leads 1000000 -q < "$WORK/leads10k.ndjson" > "$WORK/clean.ndjson"
end=$(date +%s.%N)
req=$(instantly_requests)
echo "10,000 leads: $(python3 -c "print(round($end - $start, 2))") s, $req Instantly requests = $(python3 -c "print(round($req / 10, 2))") per 1,000 leads; $(jq -r .instantly.status "$WORK/clean.ndjson" | sort | uniq -c | tr '\n' ' ')"
echo "   requests: $(stat -c '[.requests | to_entries[] | select(.key | startswith("instantly "))] | from_entries')"
stop_sandbox

echo "== 4. --dry-run over $N leads"
start_sandbox "$WORK/env" --seed 10 --repos 20 --users 20
CAMPAIGN=$(campaign_id)
CMO_STATE_DIR=$WORK/state-dry send-instantly --campaign "$CAMPAIGN" --dry-run --daily-new-leads 1000000 -q < "$WORK/leads.ndjson" > "$WORK/dry.ndjson"
echo "dry-run: $(jq -r .instantly.status "$WORK/dry.ndjson" | sort | uniq -c | tr '\n' ' '); writes the sandbox received: $(instantly_writes)"
stop_sandbox
