#!/usr/bin/env bash
# cmo-plan against the sandbox: (1) orchestration overhead per stage with trivial stages, (2) one goal
# end to end (discovery → Instantly → Attio → Linear → CSV) with added latency: wall time, requests per
# service, GitHub requests per lead beside the bare pipeline's (pipelines/discover.sh) for the same
# leads, (3) the model planner (the sandbox's cmo-planner) beside the rule planner on the same goal,
# (4) the goal of (2) killed with SIGKILL at KILLS random instants (default 20) and resumed after each,
# beside an uninterrupted run on a fresh sandbox: duplicates and missing leads in Instantly, Attio and
# Linear (the sandbox's stats), and the CSVs compared.
#
#   bin/setup && bench/cmo-plan.sh [N=2000]
#
# Environment: BIN (built products, default .build/release), REPOS/USERS (world size, default
# 30000/45000), LATENCY (ms added to every answer of every service, default 50), RUNS
# (trivial runs for the overhead, default 20), PARTS (which parts to run, default "1 2 3"; 4 is
# the kill test, run alone: PARTS=4), KILLS (default 20), SEED (the instants; default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-$(pwd)/.build/release}
[ -x "$BIN/cmo-plan" ] || { echo "bench: run bin/setup first (no binaries in $BIN)" >&2; exit 69; }
N=${1:-2000}
REPOS=${REPOS:-30000}
USERS=${USERS:-45000}
LATENCY=${LATENCY:-50}
RUNS=${RUNS:-20}
PARTS=${PARTS:-1 2 3}
NOW=2026-11-20T00:00:00Z
WORK=${KEEP:-$(mktemp -d /tmp/cmo-bench-plan.XXXXXX)}
mkdir -p "$WORK"
SANDBOX=$BIN/cmo-sandbox SANDBOX_PID=""
trap '[ -n "$SANDBOX_PID" ] && kill "$SANDBOX_PID" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
. bench/lib.sh # start_sandbox, sandbox_requests
ms() { python3 -c "print(round(($2 - $1) * 1000, 2))"; }
now_s() { date +%s.%N; }

if [[ " $PARTS " == *" 1 "* ]]; then
  echo "== 1. orchestration overhead: every stage a trivial command (cat), $RUNS rounds, medians"
  seq 10 | sed 's/.*/{"login":"u&"}/' >"$WORK/ten.ndjson"
  export CMO_STATE_DIR="$WORK/state-trivial"
  # Each round runs, interleaved (so that the machine's drift hits all alike): cmo-plan plan (start,
  # parse, plan), a 7-step job, the same job with 2 writer steps more (9 steps), and cat spawned by
  # the shell. Per stage: (7-step job − plan) / 7 − cat, the job's fixed costs (run directory, lock,
  # the plan printed) spread over its steps; a step more: (9-step − 7-step) / 2 − cat.
  python3 - "$BIN/cmo-plan" "$WORK" "$RUNS" <<'PY'
import statistics, subprocess, sys, time
plan, work, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
stages = ["--stage", f"gh-search=cat {work}/ten.ndjson"]
for s in ["gh-people", "gh-enrich", "mx-check", "score-icp", "render-copy", "export-csv", "send-instantly", "sync-attio"]:
    stages += ["--stage", f"{s}=cat"]
seven = "Find 5 Python maintainers, export a CSV"
nine = "Find 5 Python maintainers, queue them in Instantly campaign c1, add them to Attio list l1, export a CSV"
def t(cmd):
    s = time.perf_counter(); subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True); return (time.perf_counter() - s) * 1000
times = {"plan": [], "seven": [], "nine": [], "cat": []}
for i in range(runs):
    times["plan"].append(t([plan, "plan", seven]))
    times["seven"].append(t([plan, "run", "--yes", "-q", "--runs-dir", f"{work}/runs-trivial", "--job-id", f"s{i}"] + stages + [seven]))
    times["nine"].append(t([plan, "run", "--yes", "-q", "--runs-dir", f"{work}/runs-trivial", "--job-id", f"n{i}"] + stages + [nine]))
    times["cat"].append(t(["sh", "-c", "cat </dev/null"]) - t(["sh", "-c", ":"]))
m = {k: statistics.median(v) for k, v in times.items()}
print(f"  medians: cmo-plan plan {m['plan']:.2f} ms; a 7-step job {m['seven']:.2f} ms; a 9-step job {m['nine']:.2f} ms; cat spawned by sh {m['cat']:.2f} ms")
print(f"  overhead per stage (spawn, wiring, artifacts, state.json, events), the job's fixed costs spread: {(m['seven'] - m['plan']) / 7 - m['cat']:.2f} ms  (target ≤ 2 ms)")
print(f"  a step more (2 writer steps, each its own file, the approval included): {(m['nine'] - m['seven']) / 2 - m['cat']:.2f} ms beyond its cat")
PY
fi

if [[ " $PARTS " == *" 2 "* || " $PARTS " == *" 3 "* ]]; then
  start_sandbox "$WORK/env" --seed 42 --repos "$REPOS" --users "$USERS" --now "$NOW" \
    --latency "*=$LATENCY"
  export CMO_BIN=$BIN
fi

if [[ " $PARTS " == *" 2 "* ]]; then
  goal="Find $N Python maintainers active in the last 90 days, queue them in Instantly campaign $CMO_SANDBOX_INSTANTLY_CAMPAIGN,"
  goal+=" add them to Attio list $CMO_SANDBOX_ATTIO_LIST, file the errors in Linear team $CMO_SANDBOX_LINEAR_TEAM, export a CSV"
  echo "== 2. one goal end to end: $N leads, world $REPOS repos / $USERS users, +$LATENCY ms per answer"
  echo "  cmo-plan run --yes \"$goal\""
  export CMO_STATE_DIR="$WORK/state-e2e"
  declare -A before
  for s in github instantly attio linear; do before[$s]=$(sandbox_requests "$s "); done
  /usr/bin/time -f '%e %M' -o "$WORK/time" "$BIN/cmo-plan" run --yes --config pipelines/demo-campaign.yaml --now "$NOW" \
    --runs-dir "$WORK/runs" --job-id e2e "$goal" >/dev/null 2>"$WORK/e2e.log" || { echo "bench: cmo-plan exited $?" >&2; tail -30 "$WORK/e2e.log" >&2; exit 1; }
  read -r wall kb <"$WORK/time"
  grep -E '^cmo-plan: (done|funnel|send-instantly|sync-attio|sync-linear|CSV|[0-9]+ of)' "$WORK/e2e.log" | sed 's/^/  /'
  rendered=$(jq '[.steps[] | select(.stage == "render-copy" and .status == "done") | .counts.out] | max' "$WORK/runs/e2e/state.json")
  printf '  wall %s s, peak %s MB; requests:' "$wall" "$((kb / 1024))"
  for s in github instantly attio linear; do printf ' %s %s' "$s" "$(($(sandbox_requests "$s ") - before[$s]))"; done
  gh=$(($(sandbox_requests "github ") - before[github]))
  echo; echo "  GitHub requests per lead: $(python3 -c "print(round($gh / max(1, $rendered), 4))") ($gh for $rendered leads)"
  jq -r '.steps[] | "    \(.n) \(.stage) \(.counts.out // 0) out, \(.seconds // 0) s"' "$WORK/runs/e2e/state.json"
  echo "  the bare pipeline for the same leads (pipelines/discover.sh, a fresh state):"
  export CMO_STATE_DIR="$WORK/state-bare"
  b=$(sandbox_requests "github ")
  s0=$(now_s)
  pipelines/discover.sh --config pipelines/demo-campaign.yaml --now "$NOW" "language:python" "$N" "$WORK/bare.csv" </dev/null 2>"$WORK/bare.log" ||
    { echo "bench: discover.sh exited $?" >&2; tail -20 "$WORK/bare.log" >&2; exit 1; }
  s1=$(now_s)
  bare=$(($(sandbox_requests "github ") - b))
  bl=$(grep -o '^render-copy: [0-9]* in, [0-9]* out' "$WORK/bare.log" | tail -1 | awk '{print $4}')
  pass1=$(jq '[.steps[] | select(.widenStep == 0 and (.stage == "gh-search" or .stage == "gh-people" or .stage == "gh-enrich")) | .counts.http // 0] | add' "$WORK/runs/e2e/state.json")
  p1=$(jq '[.steps[] | select(.widenStep == 0 and .stage == "render-copy" and .status == "done") | .counts.out] | max' "$WORK/runs/e2e/state.json")
  echo "    cmo-plan's first pass (before any widening): $p1 leads, $pass1 GitHub requests: $(python3 -c "print(round($pass1 / max(1, $p1), 4))") per lead"
  echo "    the bare pipeline: $bl leads, $bare GitHub requests: $(python3 -c "print(round($bare / max(1, $bl), 4))") per lead, $(python3 -c "print(round($s1 - $s0, 1))") s"
  echo "  violations: $(curl -s "$CMO_SANDBOX_URL/_sandbox/stats" | jq .violations_total)"
fi

if [[ " $PARTS " == *" 3 "* ]]; then
  goal="Find 200 Python maintainers active in the last 90 days, export a CSV"
  echo "== 3. model planner (the sandbox's cmo-planner) beside the rule planner: \"$goal\""
  for p in rule model; do
    export CMO_STATE_DIR="$WORK/state-$p"
    s0=$(now_s)
    "$BIN/cmo-plan" run --yes --planner "$p" --planner-model cmo-planner --config pipelines/demo-campaign.yaml --now "$NOW" \
      --runs-dir "$WORK/runs-p" --job-id "p-$p" "$goal" >/dev/null 2>"$WORK/p-$p.log" || { echo "bench: $p exited $?" >&2; tail "$WORK/p-$p.log" >&2; exit 1; }
    s1=$(now_s)
    echo "  $p: $(grep -o 'funnel: .*' "$WORK/p-$p.log" | head -1); $(jq '.steps | length' "$WORK/runs-p/p-$p/state.json") steps," \
      "$(jq '.widenings | length' "$WORK/runs-p/p-$p/state.json") widenings, $(jq '.turns | length' "$WORK/runs-p/p-$p/state.json") model turns," \
      "fallback: $(jq -r '.planner_fallback // "none"' "$WORK/runs-p/p-$p/state.json"), $(python3 -c "print(round($s1 - $s0, 1))") s"
  done
fi

if [[ " $PARTS " == *" 4 "* ]]; then
  KILLS=${KILLS:-20}
  export CMO_BIN=$BIN
  # writes ENV: what the sandbox holds, one line: instantly leads, duplicates, attio records, entries,
  # notes, duplicates, linear issues.
  writes() {
    curl -s "$CMO_SANDBOX_URL/_sandbox/stats" | jq -r '.services as $s | "instantly leads \($s.instantly.leads), duplicate leads \([$s.instantly.campaigns[]?.duplicate_leads // 0] | add // 0);"
      + " attio records \($s.attio.records), list entries \($s.attio.list_entries), notes \($s.attio.notes), duplicates \([$s.attio | to_entries[] | select(.key | startswith("duplicate")) | .value | numbers] | add // 0);"
      + " linear issues \($s.linear.issues)"'
  }
  goal_of() {
    echo "Find $N Python maintainers active in the last 90 days, queue them in Instantly campaign $CMO_SANDBOX_INSTANTLY_CAMPAIGN," \
      "add them to Attio list $CMO_SANDBOX_ATTIO_LIST, file the errors in Linear team $CMO_SANDBOX_LINEAR_TEAM, export a CSV"
  }
  run_args=(--yes --config pipelines/demo-campaign.yaml --now "$NOW" --runs-dir "$WORK/runs-k")
  echo "== 4. kill -9 at $KILLS random instants of the $N-lead goal, resume after each, beside an uninterrupted run"
  start_sandbox "$WORK/env-ref" --seed 42 --repos "$REPOS" --users "$USERS" --now "$NOW" --latency "*=$LATENCY"
  export CMO_STATE_DIR="$WORK/state-ref"
  s0=$(now_s)
  "$BIN/cmo-plan" run "${run_args[@]}" --job-id ref "$(goal_of)" >/dev/null 2>"$WORK/ref.log" || { echo "bench: the uninterrupted run exited $?" >&2; tail "$WORK/ref.log" >&2; exit 1; }
  ref_s=$(python3 -c "print(round($(now_s) - $s0, 1))")
  ref=$(writes)
  stop_sandbox
  echo "  uninterrupted: $ref_s s; $ref"
  start_sandbox "$WORK/env-kill" --seed 42 --repos "$REPOS" --users "$USERS" --now "$NOW" --latency "*=$LATENCY"
  export CMO_STATE_DIR="$WORK/state-kill"
  # The instants: KILLS random points of the uninterrupted run's wall time, each the time a process
  # (the first run, then each resume) lives before its SIGKILL.
  mapfile -t waits < <(python3 -c "
import random; random.seed(${SEED:-1})
for _ in range($KILLS): print(round(random.uniform(0.2, $ref_s / $KILLS * 2), 2))")
  killed=0 cmd=(run "${run_args[@]}" --job-id k "$(goal_of)")
  for w in "${waits[@]}"; do
    "$BIN/cmo-plan" "${cmd[@]}" >/dev/null 2>>"$WORK/kill.log" &
    pid=$!
    sleep "$w"
    if kill -9 "$pid" 2>/dev/null; then killed=$((killed + 1)); fi
    rc=0; wait "$pid" 2>/dev/null || rc=$?
    # 137: killed; 0: finished first; anything else is a failure of its own.
    if [ "$rc" != 137 ] && [ "$rc" != 0 ]; then echo "bench: cmo-plan ${cmd[0]} exited $rc" >&2; tail "$WORK/kill.log" >&2; exit 1; fi
    status=$(jq -r .status "$WORK/runs-k/k/state.json" 2>/dev/null || echo none)
    step=$(jq -r '[.steps[] | select(.status != "done")][0] | "\(.n) \(.stage)" // "—"' "$WORK/runs-k/k/state.json" 2>/dev/null || echo —)
    echo "  after ${w} s: $([ "$status" = done ] && echo "finished before the kill" || echo "killed in step $step")"
    cmd=(resume --yes --runs-dir "$WORK/runs-k" k)
    [ "$status" = done ] && break
  done
  s0=$(now_s)
  "$BIN/cmo-plan" resume --yes --runs-dir "$WORK/runs-k" k >/dev/null 2>>"$WORK/kill.log" || { echo "bench: the last resume exited $?" >&2; tail "$WORK/kill.log" >&2; exit 1; }
  got=$(writes)
  echo "  $killed kills, then a resume to the end ($(python3 -c "print(round($(now_s) - $s0, 1))") s); $got"
  if [ "$got" = "$ref" ]; then echo "  the sandbox holds the same as after the uninterrupted run: 0 duplicates, 0 missing"; else echo "  DIFFERENT from the uninterrupted run"; fi
  if cmp -s "$WORK/runs-k/ref/exports/leads.csv" "$WORK/runs-k/k/exports/leads.csv"; then
    echo "  CSV: identical ($(python3 -c "import csv,sys; print(sum(1 for _ in csv.reader(open(sys.argv[1], newline=''))) - 1)" "$WORK/runs-k/k/exports/leads.csv") leads)"
  else
    echo "  CSV: DIFFERENT: $(diff "$WORK/runs-k/ref/exports/leads.csv" "$WORK/runs-k/k/exports/leads.csv" | grep -c '^[<>]') lines differ"
  fi
  echo "  restarted steps: $(grep -c 'was interrupted' "$WORK/kill.log" || true)"
fi
