#!/usr/bin/env bash
# GitHub discovery bench (issue 4): gh-search | gh-people | gh-enrich against the sandbox with
# added latency. Prints calls per person with a usable email, GraphQL points, wall time, the naive
# per-person baseline and the ratio, the warm re-run's quota, recall against the ground truth, and
# rate-limit violations for a run that must wait for a reset and one that must exit 75 and resume.
#
#   bin/setup && bench/github.sh
#
# Environment: BIN (built products, default .build/release), SANDBOX (the cmo-sandbox binary,
# default $BIN/cmo-sandbox, else the debug one), REPOS/USERS (world size),
# LATENCY (ms added to every GitHub answer, default 50), SEED, NAIVE_THREADS (default 8).
#
# Discovery is measured over every linked committer (gh-people --min-commits 1), so that recall can be
# checked against the sandbox's truth and the figures compare with earlier runs; a second line gives
# the cost per usable *maintainer* (the default --min-commits 3), with the profile requests such a
# run needs (gh-enrich reads only the people gh-people keeps).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/release}
[ -x "$BIN/gh-people" ] || swift build -c release >/dev/null
SANDBOX=${SANDBOX:-$BIN/cmo-sandbox}
[ -x "$SANDBOX" ] || SANDBOX=.build/debug/cmo-sandbox
REPOS=${REPOS:-4000}
USERS=${USERS:-6600}
LATENCY=${LATENCY:-50}
SEED=${SEED:-42}
NAIVE_THREADS=${NAIVE_THREADS:-8}
WORK=$(mktemp -d /tmp/cmo-bench-github.XXXXXX)
NOW=2026-11-20T00:00:00Z
SINCE=2026-08-22T00:00:00Z  # NOW - 90 days
SANDBOX_PID=""
trap '[ -n "$SANDBOX_PID" ] && kill "$SANDBOX_PID" 2>/dev/null; rm -rf "$WORK"' EXIT

. bench/lib.sh  # start_sandbox, stop_sandbox, sandbox_requests
start_world() {  # start_world NAME [flags…]: a sandbox of the bench world; sources its env file
  local name=$1; shift
  start_sandbox "$WORK/$name.env" --seed "$SEED" --repos "$REPOS" --users "$USERS" --now "$NOW" "$@"
}
stats() { curl -s "$CMO_SANDBOX_URL/_sandbox/stats"; }
calls() { sandbox_requests "github "; }
quota() { stats | jq '[.quota_spent | to_entries[] | select(.key | startswith("github/")) | .value] | add // 0'; }
violations() { stats | jq '.violations_total'; }
now_s() { date +%s.%N; }
# Same people and fields; a profile email's last_seen is when that run read the profile.
same() {
  local f='(.emails // []) |= map(if .source == "profile" then del(.last_seen) else . end)'
  cmp -s <(jq -c "$f" "$1") <(jq -c "$f" "$2") && echo yes || echo no
}

pipeline() {  # pipeline STATE OUT: repositories pushed to in the window, their people, profiles; stage times in OUT.times
  local state=$1 out=$2 t0 t1 t2 t3
  export CMO_STATE_DIR=$state
  t0=$(now_s)
  "$BIN/gh-search" --active-days 90 --now "$NOW" --max-repos 0 -q > "$out.repos" || return $?
  t1=$(now_s)
  "$BIN/gh-people" --now "$NOW" --min-commits 1 -q < "$out.repos" > "$out.people" || return $?
  t2=$(now_s)
  "$BIN/gh-enrich" -q < "$out.people" > "$out" || return $?
  t3=$(now_s)
  printf 'gh-search %.1f s, gh-people %.1f s, gh-enrich %.1f s' "$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t1" | bc)" "$(echo "$t3 - $t2" | bc)" > "$out.times"
}

echo "# GitHub discovery bench: world seed $SEED, $REPOS repositories, $USERS users, +${LATENCY} ms per GitHub answer"

# 1. Cold run, default caps (--top-authors-per-repo 5, --since-days 90).
start_world main --latency "github=$LATENCY"
t0=$(now_s)
pipeline "$WORK/state-main" "$WORK/people.ndjson"
t1=$(now_s)
cp "$WORK/people.ndjson.repos" "$WORK/repos.ndjson"
cold_calls=$(calls); cold_quota=$(quota)
cold_points=$(stats | jq '.quota_spent["github/graphql"] // 0')
cold_search=$(stats | jq '.requests["github GET /search/repositories"] // 0')
cold_gql=$(stats | jq '.requests["github POST /graphql"] // 0')
cold_other=$((cold_calls - cold_search - cold_gql))
score=$(curl -s "$CMO_SANDBOX_URL/_sandbox/truth" > "$WORK/truth.json"; python3 bench/github/score.py "$WORK/truth.json" "$WORK/repos.ndjson" "$WORK/people.ndjson" "$SINCE")
usable=$(jq -r .people_with_usable_email <<<"$score")
wall=$(echo "$t1 - $t0" | bc)
echo "cold run: $(wc -l < "$WORK/repos.ndjson") repos, $(wc -l < "$WORK/people.ndjson") people, $usable with a usable email"
echo "  calls: $cold_calls ($cold_search search pages, $cold_gql GraphQL queries, $cold_other other REST incl. /rate_limit)"
printf '  calls per person with a usable email: %.4f (target <= 0.05)\n' "$(echo "$cold_calls / $usable" | bc -l)"
echo "  GraphQL points: $cold_points; quota spent, all buckets: $cold_quota"
printf '  wall time: %.1f s (%s; calls x latency = %.1f s; search is 30 requests a minute)\n' "$wall" "$(cat "$WORK/people.ndjson.times")" "$(echo "$cold_calls * $LATENCY / 1000" | bc -l)"
echo "  quality: $score"
echo "  violations: $(violations)"
# Maintainers only: the same search and histories; profiles for the people --min-commits 3 keeps.
enrich_calls() {  # enrich_calls IN OUT: GitHub calls gh-enrich makes for IN, from a fresh state
  local c0; c0=$(calls)
  CMO_STATE_DIR=$(mktemp -d "$WORK/enrich.XXXXXX") "$BIN/gh-enrich" -q < "$1" > "$2"
  echo $(( $(calls) - c0 ))
}
jq -c 'select(.signals.commits_90d >= 3)' "$WORK/people.ndjson.people" > "$WORK/maintainers.people"
all_enrich=$(enrich_calls "$WORK/people.ndjson.people" /dev/null)
maint_enrich=$(enrich_calls "$WORK/maintainers.people" "$WORK/maintainers.ndjson")
maint_calls=$((cold_calls - all_enrich + maint_enrich))
maint_usable=$(python3 bench/github/score.py "$WORK/truth.json" "$WORK/repos.ndjson" "$WORK/maintainers.ndjson" "$SINCE" | jq -r .people_with_usable_email)
printf '  maintainers only (--min-commits 3, the default): %d people, %d with a usable email, %d calls = %.4f per usable maintainer\n' \
  "$(wc -l < "$WORK/maintainers.people")" "$maint_usable" "$maint_calls" "$(echo "$maint_calls / $maint_usable" | bc -l)"

# 2. Warm re-run of the same command over unchanged data.
q0=$(quota); c0=$(calls); t0=$(now_s)
pipeline "$WORK/state-main" "$WORK/people-warm.ndjson"
t1=$(now_s)
warm_quota=$(( $(quota) - q0 ))
printf 'warm re-run: quota %d of cold %d (%.1f%%, target <= 10%%), %d calls (%d free 304s in all), %.1f s, same output: %s\n' \
  "$warm_quota" "$cold_quota" "$(echo "100 * $warm_quota / $cold_quota" | bc -l)" "$(( $(calls) - c0 ))" \
  "$(stats | jq '.not_modified.github // 0')" "$(echo "$t1 - $t0" | bc)" \
  "$(same "$WORK/people.ndjson" "$WORK/people-warm.ndjson")"
echo "  violations: $(violations)"

# 3. Recall against the ground truth: every linked committer active in the window (no cap).
c0=$(calls)
CMO_STATE_DIR="$WORK/state-recall" "$BIN/gh-people" --now "$NOW" --top-authors-per-repo 0 --min-commits 1 -q < "$WORK/repos.ndjson" > "$WORK/all.ndjson"
echo "recall, --top-authors-per-repo 0: $(python3 bench/github/score.py "$WORK/truth.json" "$WORK/repos.ndjson" "$WORK/all.ndjson" "$SINCE") ($(( $(calls) - c0 )) calls)"
stop_sandbox

# 4. The naive per-person baseline, same world, same repositories, same latency (core limit lifted
#    so it can finish at all: it needs more than one hour's 5,000 requests, and more than 900 a minute
#    on one endpoint).
start_world naive --latency "github=$LATENCY" --core-limit 1000000 --secondary-points-per-minute 1000000
t0=$(now_s)
naive=$(python3 bench/github/naive.py "$WORK/repos.ndjson" "$SINCE" 5 "$NAIVE_THREADS")
t1=$(now_s)
naive_calls=$(( $(jq .calls <<<"$naive") + cold_search ))
naive_usable=$(jq .people_with_usable_email <<<"$naive")
naive_per=$(echo "$naive_calls / $naive_usable" | bc -l)
ours_per=$(echo "$cold_calls / $usable" | bc -l)
printf 'naive baseline: %d calls (search pages included) for %d people with a usable email = %.3f per person, %.1f s with %d threads\n' \
  "$naive_calls" "$naive_usable" "$naive_per" "$(echo "$t1 - $t0" | bc)" "$NAIVE_THREADS"
printf 'ratio, naive / ours, calls per usable person: %.0fx (target >= 100x)\n' "$(echo "$naive_per / $ours_per" | bc -l)"
stop_sandbox

# 5. Scaled-down quota: a run that must wait for resets, and one that must exit 75 and be re-run.
start_world small --latency "github=$LATENCY" --graphql-limit 60 --window-seconds 5
t0=$(now_s)
pipeline "$WORK/state-small" "$WORK/people-small.ndjson"
t1=$(now_s)
printf 'scaled quota (GraphQL 60 points per 5 s): completed in %.1f s, same people: %s, violations: %s\n' "$(echo "$t1 - $t0" | bc)" \
  "$(same "$WORK/people.ndjson" "$WORK/people-small.ndjson")" "$(violations)"
stop_sandbox
start_world stop75 --latency "github=$LATENCY" --graphql-limit 60 --window-seconds 5
set +e
(export CMO_MAX_WAIT=1; pipeline "$WORK/state-75" "$WORK/people-75-first.ndjson") 2> "$WORK/75.err"
first=$?
set -e
pipeline "$WORK/state-75" "$WORK/people-75.ndjson" 2> "$WORK/75b.err"
echo "exit-75 run: first run exited $first ($(grep -m1 'error' "$WORK/75.err" | cut -c1-140)), re-run completed, same people: $(same "$WORK/people.ndjson" "$WORK/people-75.ndjson"), violations: $(violations)"
stop_sandbox
