#!/usr/bin/env bash
# The goal is a contract, measured against the sandbox:
#   (1) a goal for more leads than its window holds (N Go maintainers active in the last DAYS days) run
#       with --yes: leads outside the window (target 0), widenings past the goal (target 0), the
#       shortfall line on stderr; then the same goal with --widen, for the difference;
#   (2) mistakes caught before the first request: GitHub requests spent before a preflight failure
#       (target 0) for a missing INSTANTLY_API_KEY, a campaign id that does not exist, a template
#       variable misspelt, and no campaign config.
#
#   bin/setup && bench/goal-contract.sh [N=400] [DAYS=60]
#
# Environment: BIN (built products, default .build/release), REPOS/USERS (world size, default 2000/3000).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-$(pwd)/.build/release}
[ -x "$BIN/cmo-plan" ] || { echo "bench: run bin/setup first (no binaries in $BIN)" >&2; exit 69; }
N=${1:-400}
DAYS=${2:-60}
REPOS=${REPOS:-2000}
USERS=${USERS:-3000}
NOW=2026-11-20T00:00:00Z
WORK=$(mktemp -d /tmp/cmo-bench-goal.XXXXXX)
SANDBOX=$BIN/cmo-sandbox SANDBOX_PID=""
trap '[ -n "$SANDBOX_PID" ] && kill "$SANDBOX_PID" 2>/dev/null; rm -rf "$WORK"' EXIT
# shellcheck source=bench/lib.sh
. bench/lib.sh
export PATH=$BIN:$PATH CMO_STATE_DIR=$WORK/state CMO_RUNS_DIR=$WORK/runs
CONFIG=$(pwd)/pipelines/demo-campaign.yaml
start_sandbox "$WORK/env" --repos "$REPOS" --users "$USERS" --now "$NOW"

cutoff=$(python3 -c "import datetime as d; print((d.datetime(2026,11,20,tzinfo=d.timezone.utc)-d.timedelta(days=$DAYS)).strftime('%Y-%m-%dT%H:%M:%SZ'))")
# leads JOB: the rendered leads of a job's best pass.
leads() {
  local st=$WORK/runs/$1/state.json
  echo "$WORK/runs/$1/$(jq -r '[.steps[] | select(.stage == "render-copy" and .status == "done")] | max_by(.counts.out) | .artifact' "$st")"
}

echo "== (1) $N Go maintainers active in the last $DAYS days, world $REPOS repos / $USERS users"
for mode in yes widen; do
  flags=(--yes); [ "$mode" = widen ] && flags+=(--widen)
  start=$(date +%s.%N)
  cmo-plan run "${flags[@]}" -q --config "$CONFIG" --now "$NOW" --job-id "g-$mode" \
    "Find $N Go maintainers active in the last $DAYS days, export a CSV" 2>"$WORK/g-$mode.err" || true
  secs=$(python3 -c "print(round($(date +%s.%N) - $start, 1))")
  file=$(leads "g-$mode")
  total=$(wc -l < "$file")
  outside=$(jq -r --arg c "$cutoff" 'select((.signals.last_commit_at // "") < $c) | .login' "$file" | wc -l)
  past=$(jq '[.widenings[] | select(.by != null)] | length' "$WORK/runs/g-$mode/state.json")
  echo "--${mode}: $total leads in $secs s; outside the goal's $DAYS days: $outside; widenings past the goal: $past"
  grep -h "short: " "$WORK/g-$mode.err" | sed 's/^/  stderr: /' | head -1
done

echo "== (2) GitHub requests spent before a preflight failure"
campaign=$CMO_SANDBOX_INSTANTLY_CAMPAIGN
goal="Find 50 Python maintainers active in the last 90 days, queue them in Instantly campaign"
typo=$WORK/typo.yaml
sed "s#\[../examples/templates\]#[$WORK/a.yaml]#" "$CONFIG" > "$typo"
sed 's/{{ name|first_name:login|default:"there" }}/{{ nmae|first_name }}/' examples/templates/a-maintainer.yaml > "$WORK/a.yaml"
check() {
  local what=$1; shift
  local before after status
  before=$(sandbox_requests "github ")
  set +e; "$@" >/dev/null 2>"$WORK/check.err"; status=$?; set -e
  after=$(sandbox_requests "github ")
  echo "$what: exit $status, GitHub requests $((after - before)); $(grep -m1 -E 'refuses|no campaign config' "$WORK/check.err" | cut -c1-110)"
}
check "no INSTANTLY_API_KEY" env -u INSTANTLY_API_KEY cmo-plan run --yes --config "$CONFIG" --now "$NOW" --job-id p1 "$goal $campaign"
check "unknown campaign" cmo-plan run --yes --config "$CONFIG" --now "$NOW" --job-id p2 "$goal 00000000-0000-4000-8000-000000000000"
check "misspelt variable" cmo-plan run --yes --config "$typo" --now "$NOW" --job-id p3 "$goal $campaign"
check "no config" env -u CMO_CONFIG cmo-plan run --yes --now "$NOW" --job-id p4 "$goal $campaign"
