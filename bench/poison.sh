#!/usr/bin/env bash
# A poison record costs only itself (issue 27): send-instantly against the sandbox's Instantly with
# N leads of which one in 20 (5%) is poison, of ten kinds, measured.
#
#   bin/setup && bench/poison.sh [N=1000] [BATCH=100]
#
# Poison kinds (5 of each per 1,000): not a mailbox, caught by Mailbox.check before any request
# (a space, a quoted local part, a local part over 64 octets, consecutive dots, a trailing dot, an
# empty domain label, a non-ASCII local part, CR/LF); and two the check passes but Instantly refuses
# (a TLD that is not letters: counted in invalid_email_count, and its leads/list lookup answered 400;
# an lt_interest_status outside the enum: a 400 naming the lead's index).
#
# 1. a run: statuses and reasons, exit status, dead letters, requests by endpoint, leads in the
#    campaign (must be the N − poison good ones, once each), the ledger's states;
# 2. a re-run of the same job: exit status, leads written (must be 0), requests it made;
# 3. a run of the poison leads alone: exit status (65: nothing useful came out) and requests.
#
# Environment: BIN (built products; default .build/release, else .build/debug).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-$(pwd)/.build/release}
[ -x "$BIN/send-instantly" ] || BIN=$(pwd)/.build/debug
[ -x "$BIN/send-instantly" ] || { echo "bench: run bin/setup first (no send-instantly in $BIN)" >&2; exit 69; }
N=${1:-1000}
BATCH=${2:-100}
WORK=${KEEP:-$(mktemp -d /tmp/cmo-bench-poison.XXXXXX)}
mkdir -p "$WORK"
SANDBOX=$BIN/cmo-sandbox SANDBOX_PID=""
trap '[ -n "$SANDBOX_PID" ] && kill "$SANDBOX_PID" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
. bench/lib.sh # start_sandbox, stop_sandbox, sandbox_requests
export PATH=$BIN:$PATH

# leads N FILE POISON_FILE: N leads as render-copy writes them (verdict safe from upstream); every
# 20th is poison, the kinds in turn; POISON_FILE gets the poison ones alone.
leads() {
  python3 - "$1" "$2" "$3" <<'EOF'
import json, sys
n, path, poison_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
kinds = [
    ("space", lambda i: f"foo bar{i}@example.org", None),
    ("quoted_local", lambda i: f'"dev{i}"@example.org', None),
    ("local_over_64", lambda i: "d" * 60 + f"{i:05d}@example.org", None),
    ("consecutive_dots", lambda i: f"dev..{i}@example.org", None),
    ("trailing_dot", lambda i: f"dev{i}.@example.org", None),
    ("empty_label", lambda i: f"dev{i}@example..org", None),
    ("non_ascii_local", lambda i: f"dév{i}@example.org", None),
    ("cr_lf", lambda i: f"dev{i}@example.org\r\nBcc: x@evil.example", None),
    ("tld_not_letters", lambda i: f"dev{i}@example.c0m", None),
    ("interest_out_of_enum", lambda i: f"dev{i}@example.org", 7),
]
with open(path, "w") as f, open(poison_path, "w") as p:
    for i in range(n):
        kind, interest = "good", None
        email = f"dev{i}@example.org"
        if i % 20 == 19:
            kind, make, interest = kinds[(i // 20) % len(kinds)]
            email = make(i)
        record = {
            "kind": "person", "id": 30_000 + i, "login": f"dev{i}", "name": f"Dev Number{i}", "company": "@acme",
            "poison": kind, "best_email": email, "email_checks": [{"address": email, "verdict": "safe"}],
            "emails": [{"address": email, "source": "commit", "evidence": f"acme/tool{i}@abc{i:05d}"}],
            "copy": {"subject": f"tool{i} and flaky CI", "template": "intro", "variant": "AB"[i % 2],
                     "body": f"Hi Dev,\n\ntool{i} caught my eye.\n\nUnsubscribe: https://example.org/u?e={i}\n"},
        }
        if interest is not None: record["interest"] = interest
        line = json.dumps(record) + "\n"
        f.write(line)
        if kind != "good": p.write(line)
EOF
}

campaign_id() {
  curl -s -H "Authorization: Bearer $INSTANTLY_API_KEY" "$INSTANTLY_API_URL/api/v2/campaigns?limit=100" |
    jq -r '[.items[] | select(.status == 1 and (.sequences | tostring | contains("cmo_subject")))][0].id'
}

# campaign_emails ID: the distinct emails and the number of leads in the campaign ("distinct leads").
campaign_emails() {
  local id=$1 cursor="" all=""
  while :; do
    local body page
    if [ -n "$cursor" ]; then body=$(jq -nc --arg c "$id" --arg s "$cursor" '{campaign:$c, limit:100, starting_after:$s}')
    else body=$(jq -nc --arg c "$id" '{campaign:$c, limit:100}'); fi
    page=$(curl -s -X POST -H "Authorization: Bearer $INSTANTLY_API_KEY" -H 'Content-Type: application/json' --data-binary "$body" \
      "$INSTANTLY_API_URL/api/v2/leads/list")
    all+=$(echo "$page" | jq -r '.items[].email')$'\n'
    [ "$(echo "$page" | jq '.items | length')" = 100 ] || break
    cursor=$(echo "$page" | jq -r '.next_starting_after // empty')
    [ -n "$cursor" ] || break
  done
  echo "$(echo -n "$all" | grep -c . || true) leads, $(echo -n "$all" | grep . | sort -u | wc -l) distinct"
}

statuses() { jq -r '.instantly.status + " " + (.instantly.reason // "")' "$1" | sort | uniq -c | awk '{printf "%s%s=%s", (NR>1?", ":""), $2 ($3 != "" ? "/" $3 : ""), $1}'; }
by_kind() { jq -r 'select(.poison != "good") | .poison + ":" + .instantly.status + "/" + (.instantly.reason // "")' "$1" | sort | uniq -c | awk '{printf "%s%s=%s", (NR>1?", ":""), $2, $1}'; }
requests_now() { curl -s "$CMO_SANDBOX_URL/_sandbox/stats" | jq -c '[.requests | to_entries[] | select(.key | startswith("instantly POST"))] | from_entries'; }
writes_now() { sandbox_requests "instantly POST /api/v2/leads/add"; }
summary_field() { grep '"event":"summary"' "$1" | tail -1 | jq -r ".$2 // 0"; }

leads "$N" "$WORK/leads.ndjson" "$WORK/poison.ndjson"
POISON=$(wc -l < "$WORK/poison.ndjson")
start_sandbox "$WORK/env" --seed 11 --repos 20 --users 20
CAMPAIGN=$(campaign_id)
export CMO_STATE_DIR=$WORK/state CMO_JOB_ID=bench-poison
ARGS=(--campaign "$CAMPAIGN" --daily-new-leads 1000000 --batch-size "$BATCH" --field lt_interest_status=.interest --log-format json
  --dead-letter "$WORK/dead.ndjson")

echo "== 1. $N leads, $POISON poison (5%, ten kinds), batches of $BATCH"
status=0
s=$(date +%s.%N)
send-instantly "${ARGS[@]}" < "$WORK/leads.ndjson" > "$WORK/out1.ndjson" 2> "$WORK/err1" || status=$?
e=$(date +%s.%N)
adds1=$(writes_now)
echo "exit status $status; $(python3 -c "print(round($e - $s, 2))") s; out $(wc -l < "$WORK/out1.ndjson"), dead-lettered $(cat "$WORK/dead.ndjson" 2>/dev/null | wc -l)"
echo "statuses: $(statuses "$WORK/out1.ndjson")"
echo "written $(summary_field "$WORK/err1" written), failed $(jq -r 'select(.instantly.status == "failed")' "$WORK/out1.ndjson" | jq -s length); HTTP requests $(summary_field "$WORK/err1" http_requests) (leads/add $adds1, for $(( (N + BATCH - 1) / BATCH )) chunks)"
echo "requests to the sandbox: $(requests_now)"
echo "poison by kind: $(by_kind "$WORK/out1.ndjson")"
echo "campaign: $(campaign_emails "$CAMPAIGN") (expected $((N - POISON)))"
echo "ledger: $(python3 -c "
import sqlite3, sys
db = sqlite3.connect('$CMO_STATE_DIR/ledger.sqlite')
print(dict(db.execute('SELECT state, COUNT(*) FROM writes GROUP BY state')), '; refused with a fingerprint:', db.execute(\"SELECT COUNT(*) FROM writes WHERE state='failed' AND reason LIKE 'refused %'\").fetchone()[0])")"
echo "sandbox rate-limit violations: $(curl -s "$CMO_SANDBOX_URL/_sandbox/stats" | jq .violations_total)"

echo "== 2. the same job again"
status=0
send-instantly "${ARGS[@]}" < "$WORK/leads.ndjson" > "$WORK/out2.ndjson" 2> "$WORK/err2" || status=$?
echo "exit status $status; written $(summary_field "$WORK/err2" written); leads/add requests $(( $(writes_now) - adds1 )); HTTP requests $(summary_field "$WORK/err2" http_requests)"
echo "statuses: $(statuses "$WORK/out2.ndjson")"
echo "campaign: $(campaign_emails "$CAMPAIGN")"

echo "== 3. the $POISON poison leads alone (a new job)"
status=0
before=$(writes_now)
CMO_JOB_ID=bench-poison-only CMO_STATE_DIR=$WORK/state-only send-instantly "${ARGS[@]}" < "$WORK/poison.ndjson" > "$WORK/out3.ndjson" 2> "$WORK/err3" || status=$?
echo "exit status $status (65: every record refused for its content); leads/add requests $(( $(writes_now) - before )); statuses: $(statuses "$WORK/out3.ndjson")"
stop_sandbox
