#!/usr/bin/env bash
# The main job, offline: cmo-sandbox plays GitHub, DNS, Instantly, Attio, Linear and an
# OpenAI-compatible model on loopback, and one goal in plain words runs end to end through cmo-plan:
# discovery (search → people → enrich → verify → score → copy, each email opening with a "why now"
# line from the sandbox's model) → one approval (--yes) → Instantly → Attio → Linear (the run's dead
# letters, if any) → CSV, ending with the funnel and what was written where. Then the same goal runs
# again as a new job and writes nothing twice.
#
#   pipelines/demo.sh [OUT_DIR]      (default OUT_DIR: out)
#
# Writes OUT_DIR/runs/<job_id>/ (state.json, artifacts/, logs/, events.ndjson, exports/leads.csv)
# and OUT_DIR/state/ (the HTTP and DNS caches, the write ledger and the suppression list of this
# sandbox's services; it is emptied first, because the sandbox's campaign is new on every run).
# The campaign is pipelines/demo-campaign.yaml: a demo sender and an example.com unsubscribe link.
#
# Environment: CMO_BIN (the binaries; default .build/release, built by bin/setup).
# Exit status: 0 done; 69 no binaries or the sandbox did not start; 1 a check of what the sandbox
# holds failed; otherwise cmo-plan's (cmo-plan --help).
set -euo pipefail
case "${1:-}" in
  -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; exit 0 ;;
  -*) echo "demo: unknown option '$1'" >&2; echo "usage: pipelines/demo.sh [OUT_DIR] (--help for more)" >&2; exit 64 ;;
esac
(($# <= 1)) || { echo "usage: pipelines/demo.sh [OUT_DIR] (--help for more)" >&2; exit 64; }
cd "$(dirname "$0")/.."
BIN=${CMO_BIN:-$(pwd)/.build/release}
OUT=${1:-out}
[ -x "$BIN/cmo-sandbox" ] && [ -x "$BIN/cmo-plan" ] || { echo "demo: no binaries in $BIN; run bin/setup first" >&2; exit 69; }
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/cmo-demo.XXXXXX")
now=2026-11-20T00:00:00Z # the sandbox world's "now"
"$BIN/cmo-sandbox" --port 0 --seed 42 --repos 12000 --users 16000 --now "$now" --env-file "$work/sandbox.env" \
  >/dev/null 2>"$work/sandbox.log" &
sandbox=$!
trap 'kill $sandbox 2>/dev/null; wait $sandbox 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do [ -s "$work/sandbox.env" ] && break; sleep 0.1; done
[ -s "$work/sandbox.env" ] || { echo "demo: cmo-sandbox did not start:" >&2; cat "$work/sandbox.log" >&2; exit 69; }
set -a
. "$work/sandbox.env" # GITHUB_API_URL, GITHUB_TOKEN, CMO_DNS_SERVER, INSTANTLY_API_URL, … all on loopback
set +a
rm -rf "$OUT/state"
export CMO_STATE_DIR="$OUT/state" CMO_LLM_MODEL=cmo-writer # the sandbox's model writes the "why now" lines

# The demo campaign, with the model's "why now" line switched on for render-copy.
sed -e "s|\[\.\./examples/templates\]|[$(pwd)/examples/templates]|" -e 's|^render-copy:$|render-copy:\n  llm: true|' \
  pipelines/demo-campaign.yaml >"$work/campaign.yaml"

sandbox_leads() {
  curl -s -H "Authorization: Bearer $INSTANTLY_API_KEY" -H 'Content-Type: application/json' -X POST \
    --data-binary "{\"campaign\":\"$CMO_SANDBOX_INSTANTLY_CAMPAIGN\",\"limit\":100}" "$INSTANTLY_API_URL/api/v2/leads/list" | jq '.items | length'
}

goal="Find 200 Python maintainers active in the last 90 days, queue them in Instantly campaign $CMO_SANDBOX_INSTANTLY_CAMPAIGN,"
goal+=" add them to Attio list $CMO_SANDBOX_ATTIO_LIST, file the errors in Linear team $CMO_SANDBOX_LINEAR_TEAM, export a CSV"
job="demo-$(date -u +%Y%m%dT%H%M%S)"
echo "== one goal, planned and run end to end by cmo-plan (--yes: the side effects are approved up front)"
echo "   cmo-plan run --yes \"$goal\""
echo
time "$BIN/cmo-plan" run --yes --config "$work/campaign.yaml" --now "$now" --runs-dir "$OUT/runs" --job-id "$job" "$goal" ||
  { s=$?; echo "demo: cmo-plan run failed ($s); its run directory: $OUT/runs/$job" >&2; exit $s; }
run="$OUT/runs/$job"
queued=$(jq -s '[.[] | select(.instantly.status == "queued")] | length' "$run/$(jq -r '[.steps[] | select(.stage == "send-instantly")][-1].artifact' "$run/state.json")")
in_campaign=$(sandbox_leads)
echo
echo "  the sandbox's campaign holds $in_campaign leads; $queued queued by this run (its daily cap defers the rest)"
[ "$queued" -gt 0 ] && [ "$in_campaign" = "$queued" ] || { echo "demo: the campaign does not hold what was queued" >&2; exit 1; }

echo
echo "== the same goal again, as a new job: every write is found in the ledger, nothing is sent twice"
"$BIN/cmo-plan" run --yes -q --config "$work/campaign.yaml" --now "$now" --runs-dir "$OUT/runs" --job-id "$job-again" "$goal" ||
  { s=$?; echo "demo: the second cmo-plan run failed ($s); its run directory: $OUT/runs/$job-again" >&2; exit $s; }
after=$(sandbox_leads)
echo "  the sandbox's campaign holds $after leads (it held $in_campaign)"
[ "$after" = "$in_campaign" ] || { echo "demo: the second run changed the campaign" >&2; exit 1; }

echo
copy="$run/$(jq -r '[.steps[] | select(.stage == "render-copy" and .status == "done")] | max_by(.counts.out).artifact' "$run/state.json")"
echo "== the top three leads (of $(wc -l <"$copy" | tr -d ' ') in $run/exports/leads.csv)"
jq -nr 'limit(3; inputs) | "\(.score)  \(.login) <\(.best_email)>  [\(.copy.variant)]\n  Subject: \(.copy.subject)\n\(.copy.body | split("\n") | map("  | " + .) | join("\n"))\n"' "$copy"
[ -s "$run/report.html" ] && [ -s "$run/report.json" ] || { echo "demo: the run wrote no report" >&2; exit 1; }
echo "the run's report (open it in a browser, offline): $run/report.html (figures: report.json)"
echo "state, artifacts and events: $run (cmo-plan status $job --runs-dir $OUT/runs)"
