#!/usr/bin/env bash
# What Instantly sends back, received once whatever happens to the receiver (issue 28), against the sandbox.
#
#   bin/setup && bench/hooks.sh [LEADS=2000] [DAYS=14] [KILLS=10] [BURST=10000]
#
# 1. LEADS leads queued in one campaign (send-instantly); `cmo-hooks register` points the campaign's
#    webhook at `cmo-hooks serve`; the sandbox's clock advances DAYS days, one at a time, while serve is
#    killed with SIGKILL at KILLS random instants and started again after a random downtime (the sandbox
#    retries, then disables the webhook: status −1). Afterwards `register` resumes the webhook,
#    `catch-up` fetches what was missed, `apply` does what each event means. Compared with the sandbox's
#    truth: events lost, events stored twice, and duplicate effects (suppression entries, block-list
#    entries, Linear issues, Attio notes). `apply` runs twice more (the second and third do nothing).
# 2. A burst of BURST deliveries (distinct events) from 32 concurrent senders straight at serve:
#    events per second stored and the p50/p99 acknowledgement latency.
#
# Environment: BIN (built products, default .build/release), LATENCY (ms per sandbox answer, default 5).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-$(pwd)/.build/release}
[ -x "$BIN/cmo-hooks" ] || { echo "bench: run bin/setup first (no cmo-hooks in $BIN)" >&2; exit 69; }
LEADS=${1:-2000}
DAYS=${2:-14}
KILLS=${3:-10}
BURST=${4:-10000}
LATENCY=${LATENCY:-5}
WORK=${KEEP:-$(mktemp -d /tmp/cmo-bench-hooks.XXXXXX)}
mkdir -p "$WORK"
SANDBOX=$BIN/cmo-sandbox SANDBOX_PID="" SERVE=""
trap '[ -n "$SERVE" ] && kill -9 "$SERVE" 2>/dev/null; [ -n "$SANDBOX_PID" ] && kill "$SANDBOX_PID" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
. bench/lib.sh # start_sandbox
export PATH=$BIN:$PATH
export CMO_STATE_DIR=$WORK/state CMO_HOOKS_SECRET=bench-hooks-secret-0123456789 CMO_JOB_ID=bench-hooks
stat() { curl -s "$CMO_SANDBOX_URL/_sandbox/stats" | jq "$@"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
sql() { python3 -c "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])" "$1" "$2"; }

echo "== 1. $LEADS leads, $DAYS days advanced, serve killed with SIGKILL at $KILLS random instants, then catch-up and apply"
start_sandbox "$WORK/env" --seed 28 --repos 20 --users 20 --latency "*=$LATENCY" --instantly-sequence-steps 3 \
  --instantly-daily-limit "$LEADS" --instantly-webhook-backoff 0.2,0.5 --instantly-webhook-attempts 3
CAMPAIGN=$CMO_SANDBOX_INSTANTLY_CAMPAIGN
python3 - "$LEADS" "$WORK/leads.ndjson" <<'EOF'
import json, sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    for i in range(n):
        email = f"dev{i}@example.org"
        f.write(json.dumps({
            "kind": "person", "id": 10_000 + i, "login": f"dev{i}", "name": f"Dev Number{i}", "best_email": email,
            "email_checks": [{"address": email, "verdict": "safe"}],
            "copy": {"subject": f"tool{i} and flaky CI", "template": "intro", "variant": "AB"[i % 2],
                     "body": f"Hi Dev,\n\ntool{i} caught my eye.\n\nUnsubscribe: https://example.org/u?e={i}\n"},
        }) + "\n")
EOF
send-instantly --campaign "$CAMPAIGN" --daily-new-leads 1000000 -q <"$WORK/leads.ndjson" >"$WORK/queued.ndjson"
echo "   queued: $(jq -r 'select(.instantly.status == "queued")' -c "$WORK/queued.ndjson" | wc -l) of $LEADS"
PORT=$(free_port)
cmo-hooks register --campaign "$CAMPAIGN" --url "http://127.0.0.1:$PORT/" -q | jq -c '{action, status}' | sed 's/^/   register: /'
start_serve() { bash -c "exec cmo-hooks serve --port $PORT -q >>'$WORK/events.ndjson' 2>>'$WORK/serve.log'" & SERVE=$!; }
start_serve
sleep 0.5
# The kill instants: KILLS random moments within the advancing, each followed by 0.2–2 s of downtime.
python3 -c "import random; random.seed(28); print(' '.join(str(round(random.uniform(0, $DAYS), 2)) for _ in range($KILLS)))" >"$WORK/kill-days"
read -r -a KILL_AT <"$WORK/kill-days"
kills=0
start=$(date +%s.%N)
for day in $(seq 1 "$DAYS"); do
  curl -s -X POST "$CMO_SANDBOX_URL/_sandbox/instantly/advance" -d '{"days":1}' >/dev/null
  for k in "${KILL_AT[@]}"; do
    if python3 -c "import sys; sys.exit(0 if $((day - 1)) <= $k < $day else 1)"; then
      sleep "0.$((RANDOM % 9 + 1))"
      kill -9 "$SERVE" 2>/dev/null && kills=$((kills + 1))
      wait "$SERVE" 2>/dev/null || true
      sleep "$(python3 -c "import random; print(round(random.uniform(0.2, 2), 2))")"
      start_serve
    fi
  done
  sleep 0.3
done
# Let the sandbox finish (or give up) delivering.
for _ in $(seq 600); do
  [ "$(curl -s "$CMO_SANDBOX_URL/_sandbox/instantly/deliveries" | jq '.pending // 0')" = 0 ] && break
  sleep 0.2
done
echo "   advanced $DAYS days in $(python3 -c "print(round($(date +%s.%N) - $start, 1))") s; $kills kills; webhook status after: $(stat -c '[.services.instantly.webhooks[].status]'); deliveries: $(curl -s "$CMO_SANDBOX_URL/_sandbox/instantly/deliveries" | jq -c 'del(.recent?)' | cut -c1-200)"
stored_live=$(sql "$CMO_STATE_DIR/hooks.sqlite" "SELECT COUNT(*) FROM hook_events")
cmo-hooks register --campaign "$CAMPAIGN" --url "http://127.0.0.1:$PORT/" -q | jq -c '{action, status}' | sed 's/^/   register again: /'
cmo-hooks catch-up -q >"$WORK/caught.ndjson" 2>"$WORK/catch-up.log" || echo "   catch-up exit $?: $(tail -1 "$WORK/catch-up.log")"
stored=$(sql "$CMO_STATE_DIR/hooks.sqlite" "SELECT COUNT(*) FROM hook_events")
TEAM=$CMO_SANDBOX_LINEAR_TEAM
a0=$(date +%s.%N)
cmo-hooks apply --team "$TEAM" -q >"$WORK/effects.ndjson" 2>"$WORK/apply.log" || echo "   apply exit $?: $(tail -1 "$WORK/apply.log")"
a1=$(date +%s.%N)
cmo-hooks apply --team "$TEAM" -q >"$WORK/effects-2.ndjson" 2>>"$WORK/apply.log"
cmo-hooks apply --team "$TEAM" --from-start -q >"$WORK/effects-3.ndjson" 2>>"$WORK/apply.log"
# The truth, keyed as cmo-hooks keys an event.
curl -s "$CMO_SANDBOX_URL/_sandbox/instantly/truth" | jq -c --arg c "$CAMPAIGN" '.events[] | select(.campaign_id == $c)' >"$WORK/truth.ndjson"
python3 - "$WORK/truth.ndjson" "$CMO_STATE_DIR/hooks.sqlite" "$CMO_STATE_DIR/suppression.sqlite" "$WORK/effects.ndjson" <<'EOF'
import json, sqlite3, sys, collections
truth = [json.loads(l) for l in open(sys.argv[1])]
db = sqlite3.connect(sys.argv[2])
stored = [json.loads(r[0]) for r in db.execute("SELECT record FROM hook_events")]
def key(e):
    return (e.get("event_type"), (e.get("lead_email") or "").lower(), e.get("step"), e.get("email_id") or "", e.get("timestamp"))
tk = collections.Counter(key(e) for e in truth)
sk = collections.Counter(key(e) for e in stored)
lost = sum((tk - sk).values()); extra = sum((sk - tk).values()); twice = sum(n - 1 for n in sk.values() if n > 1)
types = collections.Counter(e.get("event_type") for e in truth)
print(f"   truth: {len(truth)} events {dict(sorted(types.items()))}")
print(f"   stored: {len(stored)}; lost {lost}, not in the truth {extra}, stored twice {twice}; by source {dict(collections.Counter(e.get('source') for e in stored))}")
unsub = {e["lead_email"].lower() for e in truth if e.get("event_type") == "lead_unsubscribed"}
hard = {e["lead_email"].lower() for e in truth if e.get("event_type") == "email_bounced" and (e.get("bounce_type") == "hard" or str(e.get("bounce_code", "")).startswith("5"))}
want = unsub | hard
sup = sqlite3.connect(sys.argv[3])
cols = [r[1] for r in sup.execute("PRAGMA table_info(suppression)")]
vcol = "value" if "value" in cols else cols[0]
rows = [r[0] for r in sup.execute(f"SELECT {vcol} FROM suppression")]
print(f"   suppression: {len(rows)} entries for {len(want)} people to suppress (unsubscribed {len(unsub)}, hard bounces {len(hard)}); missing {len(want - set(rows))}, twice {len(rows) - len(set(rows))}")
eff = collections.Counter((json.loads(l)["effect"], json.loads(l)["status"]) for l in open(sys.argv[4]))
print(f"   first apply: {dict(sorted(eff.items()))}")
interested = {e["lead_email"].lower() for e in truth if e.get("event_type") == "lead_interested"}
print(f"   interested replies in the truth: {len(interested)}")
EOF
echo "   apply: $(python3 -c "print(round($a1 - $a0, 1))") s; second apply: $(wc -l <"$WORK/effects-2.ndjson") effects; --from-start: $(jq -r .status "$WORK/effects-3.ndjson" | sort | uniq -c | tr '\n' ' ')"
echo "   sandbox: block list $(stat -c '.services.instantly.block_list'), Attio notes $(stat .services.attio.notes) (duplicates $(stat .services.attio.duplicate_notes)), Linear issues $(stat .services.linear.issues) (the job's parent and one per interested reply; ids are derived, so a second would be refused), instantly violations $(stat -c '.services.instantly.rate_limit_violations.total')"
kill -9 "$SERVE" 2>/dev/null; wait "$SERVE" 2>/dev/null || true; SERVE=""

echo "== 2. a burst of $BURST deliveries from 32 senders straight at serve"
export CMO_STATE_DIR=$WORK/burst
PORT=$(free_port)
start_serve
for _ in $(seq 100); do curl -s "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
python3 - "$PORT" "$BURST" "$CMO_HOOKS_SECRET" <<'EOF'
import http.client, json, sys, threading, time
port, n, secret = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
lat = []; errors = []; lock = threading.Lock(); nxt = [0]
def worker():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while True:
        with lock:
            i = nxt[0]; nxt[0] += 1
        if i >= n: break
        body = json.dumps({"timestamp": f"2026-12-07T10:{i // 6000 % 60:02d}:{i // 100 % 60:02d}.{i % 100:03d}Z", "event_type": "email_sent",
                           "workspace": "w", "campaign_id": "burst", "campaign_name": "Burst", "lead_email": f"burst{i}@example.org",
                           "step": 1, "variant": 0, "email_id": f"e{i}"})
        t = time.perf_counter()
        try:
            c.request("POST", "/", body, {"Content-Type": "application/json", "X-CMO-Hooks-Secret": secret})
            r = c.getresponse(); r.read()
            if r.status != 200: errors.append(r.status)
        except Exception as e:
            errors.append(str(e)); c = http.client.HTTPConnection("127.0.0.1", port, timeout=30); continue
        with lock: lat.append(time.perf_counter() - t)
start = time.perf_counter()
ts = [threading.Thread(target=worker) for _ in range(32)]
[t.start() for t in ts]; [t.join() for t in ts]
wall = time.perf_counter() - start
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000
print(f"   {len(lat)} acknowledged in {wall:.1f} s ({len(lat) / wall:.0f} events/s); ack latency p50 {q(0.5):.1f} ms, p99 {q(0.99):.1f} ms, max {lat[-1] * 1000:.1f} ms; errors {len(errors)}")
EOF
echo "   stored $(sql "$CMO_STATE_DIR/hooks.sqlite" "SELECT COUNT(*) FROM hook_events"), printed $(grep -c . "$WORK/events.ndjson" || true) lines in all"
