#!/usr/bin/env bash
# sync-linear against the sandbox's Linear, measured.
#
#   bin/setup && bench/sync-linear.sh [N=5000] [DISTINCT=40] [KILLS=20]
#
# 1. kill -9 at KILLS random instants of a sync-linear run over N dead letters of DISTINCT errors
#    (+LATENCY ms per answer, chunks of 100), re-running after each kill, then once to the end:
#    parents and children in Linear (must be exactly 1 and DISTINCT), the sum of the children's
#    counts (must be N), duplicate creates the sandbox received.
# 2. chaos (10% 5xx, 2% 429, 1% resets, 1% truncated bodies) with a small request budget, once with
#    RATELIMITED as HTTP 400 and resets in ms, once as 429 and resets in s: runs to complete,
#    rate-limit violations, the same three checks.
# 3. a clean run: Linear requests per 1,000 dead letters, at the default chunk (1,000) and at 100.
#
# Environment: BIN (built products, default .build/release), LATENCY (ms per Linear answer, default 20).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-$(pwd)/.build/release}
[ -x "$BIN/sync-linear" ] || { echo "bench: run bin/setup first (no sync-linear in $BIN)" >&2; exit 69; }
N=${1:-5000}
DISTINCT=${2:-40}
KILLS=${3:-20}
LATENCY=${LATENCY:-20}
WORK=${KEEP:-$(mktemp -d /tmp/cmo-bench-linear.XXXXXX)}
mkdir -p "$WORK"
SANDBOX=$BIN/cmo-sandbox SANDBOX_PID=""
trap '[ -n "$SANDBOX_PID" ] && kill "$SANDBOX_PID" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
. bench/lib.sh # start_sandbox, stop_sandbox
export PATH=$BIN:$PATH

# dead_letters N DISTINCT FILE: N dead letters of DISTINCT errors (stages × codes × message shapes),
# each message with per-line details (emails, counts, UUIDs, quoted values) that normalise away.
python3 - "$N" "$DISTINCT" "$WORK/dead.ndjson" <<'EOF'
import json, sys, random
n, distinct, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = random.Random(7)
stages = ["gh-people", "gh-enrich", "mx-check", "render-copy", "send-instantly"]
shapes = ["lead {e} failed after {k} tries (request {u})", "required field 'copy.body' is missing for {e}",
          "HTTP 503 from https://api.example.com/v2/x/{k} after {k} attempts", "value '{e}' for cmo_body is over {k} characters"]
with open(path, "w") as f:
    for i in range(n):
        d = rng.randrange(distinct)
        msg = shapes[d % len(shapes)].format(e=f"dev{i}@example.org", k=rng.randrange(1, 999),
                                            u="%08x-1c2d-4e5f-8a9b-%012x" % (rng.getrandbits(32), rng.getrandbits(48)))
        f.write(json.dumps({"stage": stages[d % len(stages)], "line": i + 1,
                            "error": {"code": f"code_{d // (len(shapes) * len(stages))}_{d}", "message": msg, "retryable": d % 2 == 0},
                            "input": {"id": 10_000 + i, "bio": "{{unsubscribe}} ``` [x](javascript:x) \u0007 @everyone"}}) + "\n")
EOF

gql() {
  curl -s -X POST -H "Authorization: $LINEAR_API_KEY" -H 'Content-Type: application/json' --data-binary "$1" "$LINEAR_API_URL"
}
stat() { curl -s "$CMO_SANDBOX_URL/_sandbox/stats" | jq "$@"; }
linear_requests() { stat '[.requests | to_entries[] | select(.key | startswith("linear ")) | .value] | add // 0'; }
# by_operation: Linear requests by operation and first root field ("mutation issueUpdate": n).
by_operation() {
  stat -c '[.requests | to_entries[] | select(.key | startswith("linear ")) | {k: (.key | sub("^linear POST /graphql "; "") | split(",")[0]), v: .value}]
    | group_by(.k) | map({key: .[0].k, value: (map(.v) | add)}) | from_entries'
}

# verify LABEL: parents, children, the children's counts summed (from their descriptions), duplicates.
verify() {
  local page=""
  for _ in $(seq 50); do # the sandbox's faults hit the bench's own reads too: ask again
    page=$(gql '{"query":"{ issues(first: 250) { nodes { id parent { id } description } } }"}' || true)
    echo "$page" | jq -e '.data.issues.nodes | type == "array"' >/dev/null 2>&1 && break
    sleep 0.2
  done
  echo "$page" | jq -r --arg what "$1" --argjson n "$N" --argjson d "$DISTINCT" '
    .data.issues.nodes as $all | ($all | map(select(.parent == null)) | length) as $p
    | ($all | map(select(.parent != null))) as $c
    | ($c | map(.description | capture("^\\*\\*(?<n>[0-9]+)\\*\\*").n | tonumber) | add // 0) as $sum
    | "\($what): parents \($p), children \($c | length), counts add up to \($sum) (want 1, \($d), \($n))"
      + (if $p == 1 and ($c | length) == $d and $sum == $n then "" else "  FAIL" end)'
  echo "   duplicate creates received: $(stat -c '[.duplicates[]? | select(.service == "linear" and .kind == "issue_id")] | length'), violations $(stat .violations_total)"
}

echo "== 1. kill -9 at $KILLS random instants of a run over $N dead letters of $DISTINCT errors (+${LATENCY} ms, chunks of 100)"
start_sandbox "$WORK/env" --seed 7 --repos 20 --users 20 --latency "linear=$LATENCY"
export CMO_STATE_DIR=$WORK/state-kill
ARGS=(--team ENG --job bench-kill --campaign-name "bench" --batch-size 100 -q --max-wait 30)
killed=0 runs=0 finished=0 start=$(date +%s.%N)
while [ "$killed" -lt "$KILLS" ] && [ "$runs" -lt $((KILLS * 3)) ]; do
  sync-linear "${ARGS[@]}" < "$WORK/dead.ndjson" > "$WORK/out-$runs.ndjson" 2>>"$WORK/kill.log" &
  pid=$!
  runs=$((runs + 1))
  sleep "$(python3 -c 'import random; print(round(random.uniform(0.05, 2.5), 3))')"
  if kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid"; wait "$pid" 2>/dev/null || true
    killed=$((killed + 1))
  else
    wait "$pid" || true
    finished=$((finished + 1))
  fi
done
final=1
for _ in 1 2 3; do
  runs=$((runs + 1))
  if sync-linear "${ARGS[@]}" < "$WORK/dead.ndjson" > "$WORK/final.ndjson" 2>>"$WORK/kill.log"; then final=0; break; fi
done
end=$(date +%s.%N)
echo "kills that hit a running process: $killed; runs that finished before their kill: $finished; runs: $runs; last run exit $final; $(python3 -c "print(round($end - $start, 1))") s"
echo "final run's statuses: $(jq -r '.linear.status' "$WORK/final.ndjson" | sort | uniq -c | tr '\n' ' ')"
echo "Linear requests over all runs: $(linear_requests) $(by_operation)"
verify "kill -9"
unset CMO_STATE_DIR
stop_sandbox

n=0
for form in "400 ms" "429 s"; do
  set -- $form
  n=$((n + 1))
  echo "== 2.$n chaos: 10% 5xx, 2% 429, 1% resets, 1% truncated bodies; RATELIMITED as HTTP $1, resets in $2, 30 requests per 3 s"
  start_sandbox "$WORK/env" --seed $((8 + n)) --repos 20 --users 20 --latency "linear=$LATENCY" \
    --fail-rate linear=0.10 --429-rate linear=0.02 --reset-rate linear=0.01 --truncate-rate linear=0.01 \
    --linear-rate-limit-status "$1" --linear-reset-unit "$2" --linear-requests-per-hour 30 --linear-window-seconds 3
  STATE=$WORK/state-chaos-$n
  runs=0 status=1 start=$(date +%s.%N)
  while [ "$status" != 0 ] && [ "$runs" -lt 10 ]; do
    runs=$((runs + 1))
    status=0
    CMO_STATE_DIR=$STATE sync-linear --team ENG --job "bench-chaos-$n" --batch-size 250 -q --max-wait 30 --retries 8 \
      < "$WORK/dead.ndjson" > "$WORK/chaos.ndjson" 2>>"$WORK/chaos.log" || status=$?
  done
  end=$(date +%s.%N)
  echo "runs to complete: $runs (last exit $status), $(python3 -c "print(round($end - $start, 1))") s; faults injected $(stat -c '.faults_injected.linear // {}'); Linear requests $(linear_requests)"
  verify "chaos $1/$2"
  stop_sandbox
done

echo "== 3. clean runs: Linear requests per 1,000 dead letters"
for batch in 1000 100; do
  start_sandbox "$WORK/env" --seed 12 --repos 20 --users 20 --latency "linear=$LATENCY"
  start=$(date +%s.%N)
  CMO_STATE_DIR=$WORK/state-clean-$batch sync-linear --team ENG --job bench-clean --batch-size "$batch" -q < "$WORK/dead.ndjson" > /dev/null
  end=$(date +%s.%N)
  req=$(linear_requests)
  echo "chunks of $batch: $req Linear requests for $N dead letters = $(python3 -c "print(round($req * 1000 / $N, 2))") per 1,000; $(python3 -c "print(round($end - $start, 2))") s"
  echo "   $(by_operation)"
  stop_sandbox
done
