#!/usr/bin/env bash
# The read side end to end (pipelines/discover.sh, the stages piped by hand) against the sandbox with added latency: wall
# time to N leads, GitHub requests and DNS queries per lead, the funnel, and a warm re-run.
#
#   bin/setup && bench/discover.sh [N=500 ...]
#
# Environment: BIN (built products, default .build/release), REPOS/USERS (world size, default
# 6000/9000), LATENCY (ms added to every GitHub answer, default 50), QUERY (default
# 'language:python'). The sandbox's DNS answers without added latency (bench/mx-check.sh measures
# DNS behind a 2 ms relay).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-$(pwd)/.build/release}
[ -x "$BIN/render-copy" ] || { echo "bench: run bin/setup first (no binaries in $BIN)" >&2; exit 69; }
REPOS=${REPOS:-6000}
USERS=${USERS:-9000}
LATENCY=${LATENCY:-50}
QUERY=${QUERY:-language:python}
NOW=2026-11-20T00:00:00Z
WORK=${KEEP:-$(mktemp -d /tmp/cmo-bench-discover.XXXXXX)} # KEEP=DIR keeps every run's CSV and log
mkdir -p "$WORK"
SANDBOX=$BIN/cmo-sandbox SANDBOX_PID=""
trap '[ -n "$SANDBOX_PID" ] && kill "$SANDBOX_PID" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
. bench/lib.sh # start_sandbox, sandbox_requests
(($#)) || set -- 500

start_sandbox "$WORK/env" --seed 42 --repos "$REPOS" --users "$USERS" --now "$NOW" --latency "github=$LATENCY"
export CMO_BIN=$BIN
violations() { curl -s "$CMO_SANDBOX_URL/_sandbox/stats" | jq '.violations_total'; }

echo "world: $REPOS repos, $USERS users; +${LATENCY} ms per GitHub answer; query '$QUERY'"
printf '%7s %5s %9s %8s %8s %10s %11s %9s %6s   %s\n' leads run wall_s github gh/lead dns_q dns_q/lead peak_MB viol "seconds per stage"
for n in "$@"; do
  export CMO_STATE_DIR="$WORK/state-$n"
  for run in cold warm; do
    if [ "$run" = warm ]; then
      # A cron re-run comes later: when the search window (30 a minute) has fewer searches left
      # than the cold run made, start the warm run in a fresh one, as a re-run right after the
      # cold one would first wait for the window it emptied.
      reset=$(curl -s -H "Authorization: Bearer $GITHUB_TOKEN" "$GITHUB_API_URL/rate_limit" |
        jq --argjson need "$searches" '.resources.search | if .remaining < $need then .reset else 0 end')
      wait=$((reset - $(date +%s) + 1))
      if ((wait > 0)); then echo "(waiting ${wait} s for the search window the cold run used)"; sleep "$wait"; fi
    fi
    before=$(sandbox_requests "github ")
    searches_before=$(sandbox_requests "github GET /search")
    dns_before=$(($(sandbox_requests "dns M") + $(sandbox_requests "dns A")))
    /usr/bin/time -f '%e %M' -o "$WORK/time" pipelines/discover.sh --config pipelines/demo-campaign.yaml --now "$NOW" \
      "$QUERY" "$n" "$WORK/leads-$n-$run.csv" </dev/null 2>"$WORK/log-$n-$run.txt" || { echo "bench: discover exited $?" >&2; tail -20 "$WORK/log-$n-$run.txt" >&2; exit 1; }
    read -r wall kb <"$WORK/time"
    calls=$(($(sandbox_requests "github ") - before))
    searches=$(($(sandbox_requests "github GET /search") - searches_before)) # what the warm run will ask again
    dns=$(($(sandbox_requests "dns M") + $(sandbox_requests "dns A") - dns_before))
    # Each stage's summary line: "stage: N in, M out, …, T s" (T: seconds since it started).
    leads=$(grep -o '^render-copy: [0-9]* in, [0-9]* out' "$WORK/log-$n-$run.txt" | tail -1 | awk '{print $4}')
    stages=$(grep -E '^[a-z-]+: [0-9]+ in, [0-9]+ out, .* s(;|$)' "$WORK/log-$n-$run.txt" |
      sed -E 's/^([a-z-]+): .* ([0-9.]+) s(;.*)?$/\1 \2/' | tr '\n' ' ')
    awk -v l="$leads" -v r="$run" -v w="$wall" -v c="$calls" -v d="${dns:-0}" -v k="$kb" -v v="$(violations)" \
      -v s="$stages" 'BEGIN { printf "%7d %5s %9.2f %8d %8.4f %10d %11.3f %9.0f %6d   %s\n", l, r, w, c, (l ? c / l : 0), d, (l ? d / l : 0), k / 1024, v, s }' 
  done
  echo "funnel ($n, cold): $(grep -oE '^[a-z-]+: [0-9]+ in, [0-9]+ out' "$WORK/log-$n-cold.txt" | sed -E 's/: [0-9]+ in, / /; s/ out//' | tr '\n' ' ')"
  cmp -s "$WORK/leads-$n-cold.csv" "$WORK/leads-$n-warm.csv" && echo "warm re-run: identical CSV" || echo "warm re-run: CSV differs"
done
