#!/usr/bin/env bash
# The main job, offline: cmo-sandbox plays GitHub, DNS and Instantly on loopback, and a campaign
# runs against it — search → people → enrich → verify → score → copy (with a "why now" line from
# the sandbox's model) → CSV, ending with the funnel — then the leads are queued in the sandbox's
# Instantly campaign by send-instantly, once each, within the campaign's daily cap, the queued
# people go into the sandbox's Attio list (sync-attio), and any dead letters into Linear (sync-linear).
# Then the same campaign as one goal: cmo-plan plans it and runs every stage end to end
# (OUT_DIR/runs/<job_id>/: state.json, artifacts, events, exports/leads.csv), writing nothing twice.
#
#   pipelines/demo.sh [OUT_DIR]      (default OUT_DIR: out)
#
# Writes OUT_DIR/leads.csv, keeps every stage's output and log in OUT_DIR/run/ (send-instantly's in
# run/8-send-instantly.ndjson), and the stages' state (HTTP and DNS caches, commit histories) in
# OUT_DIR/state, so a second run is nearly free. The write ledger and suppression list of the
# sandbox's Instantly live in a temporary folder: the sandbox's campaign is new on every run.
# The campaign is pipelines/demo-campaign.yaml: a demo sender and an example.com unsubscribe link.
#
# Environment: CMO_BIN (the stage binaries; default .build/release, built by bin/setup).
# Exit status: 0 done; 69 no binaries or the sandbox did not start; otherwise discover.sh's
# (pipelines/discover.sh --help).
set -euo pipefail
case "${1:-}" in
  -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; exit 0 ;;
  -*) echo "demo: unknown option '$1'" >&2; echo "usage: pipelines/demo.sh [OUT_DIR] (--help for more)" >&2; exit 64 ;;
esac
(($# <= 1)) || { echo "usage: pipelines/demo.sh [OUT_DIR] (--help for more)" >&2; exit 64; }
cd "$(dirname "$0")/.."
BIN=${CMO_BIN:-$(pwd)/.build/release}
OUT=${1:-out}
[ -x "$BIN/cmo-sandbox" ] || { echo "demo: no binaries in $BIN; run bin/setup first" >&2; exit 69; }
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
. "$work/sandbox.env" # GITHUB_API_URL, GITHUB_TOKEN, CMO_DNS_SERVER, … all pointing at loopback
set +a
export CMO_STATE_DIR="$OUT/state" CMO_BIN="$BIN"
export CMO_LLM_MODEL=cmo-writer # the sandbox's model for "why now" lines

echo "demo: the best 200 Python maintainers active in the last 90 days, from the sandbox's GitHub and DNS," >&2
echo "      with copy written from templates and a line from the sandbox's model" >&2
time pipelines/discover.sh --config pipelines/demo-campaign.yaml --llm --now "$now" --keep "$OUT/run" \
  "language:python" 200 "$OUT/leads.csv"

echo
echo "== queueing them in the sandbox's Instantly campaign (send-instantly; the daily cap defers the rest)"
writes="$work/writes" # a ledger for this sandbox only: its campaign starts empty every run
CMO_STATE_DIR="$writes" "$BIN/cmo-suppress" add "$(jq -r 'select(.best_email) | .best_email' "$OUT/run/6-render-copy.ndjson" | sed -n 2p)" \
  --reason "demo: an opt-out" --source demo -q
CMO_STATE_DIR="$writes" "$BIN/send-instantly" --config pipelines/demo-campaign.yaml --campaign "$CMO_SANDBOX_INSTANTLY_CAMPAIGN" \
  < "$OUT/run/6-render-copy.ndjson" > "$OUT/run/8-send-instantly.ndjson" 2>"$OUT/run/8-send-instantly.log" ||
  { s=$?; echo "demo: send-instantly failed ($s):" >&2; cat "$OUT/run/8-send-instantly.log" >&2; exit $s; }
grep -v '^send-instantly: [0-9]* in' "$OUT/run/8-send-instantly.log" >&2 || true
jq -r '.instantly.status' "$OUT/run/8-send-instantly.ndjson" | sort | uniq -c | sed 's/^/  /'
queued=$(jq -s '[.[] | select(.instantly.status == "queued")] | length' "$OUT/run/8-send-instantly.ndjson")
in_campaign=$(curl -s -H "Authorization: Bearer $INSTANTLY_API_KEY" -H 'Content-Type: application/json' -X POST \
  --data-binary "{\"campaign\":\"$CMO_SANDBOX_INSTANTLY_CAMPAIGN\",\"limit\":100}" "$INSTANTLY_API_URL/api/v2/leads/list" | jq '.items | length')
echo "  the sandbox's campaign holds $in_campaign leads; $queued queued by this run"
[ "$queued" -gt 0 ] && [ "$in_campaign" = "$queued" ] || { echo "demo: the campaign does not hold what was queued" >&2; exit 1; }

echo
echo "== the queued people into the sandbox's Attio list, with one note each (sync-attio)"
job="demo-$(date -u +%Y%m%dT%H%M%S)"
CMO_STATE_DIR="$writes" "$BIN/sync-attio" --list "$CMO_SANDBOX_ATTIO_LIST" --only-status queued --job "$job" -q \
  < "$OUT/run/8-send-instantly.ndjson" > "$OUT/run/9-sync-attio.ndjson" 2>"$OUT/run/9-sync-attio.log" ||
  { s=$?; echo "demo: sync-attio failed ($s):" >&2; cat "$OUT/run/9-sync-attio.log" >&2; exit $s; }
jq -r '.attio.status' "$OUT/run/9-sync-attio.ndjson" | sort | uniq -c | sed 's/^/  /'
if [ -s "$OUT/run/dead-letters.ndjson" ]; then
  echo "== the run's dead letters into the sandbox's Linear: one parent issue, one child per distinct error (sync-linear)"
  CMO_STATE_DIR="$writes" "$BIN/sync-linear" --team "$CMO_SANDBOX_LINEAR_TEAM" --job "$job" --campaign-name "demo Python maintainers" -q \
    < "$OUT/run/dead-letters.ndjson" > "$OUT/run/10-sync-linear.ndjson" 2>"$OUT/run/10-sync-linear.log" ||
    { s=$?; echo "demo: sync-linear failed ($s):" >&2; cat "$OUT/run/10-sync-linear.log" >&2; exit $s; }
  jq -r '.linear.status' "$OUT/run/10-sync-linear.ndjson" | sort | uniq -c | sed 's/^/  /'
else
  echo "  no dead letters in this run: nothing for sync-linear to file"
fi

echo
echo "== the same campaign as one goal, planned and run end to end by cmo-plan (--yes: approved up front)"
goal="Find 200 Python maintainers active in the last 90 days, queue them in Instantly campaign $CMO_SANDBOX_INSTANTLY_CAMPAIGN,"
goal+=" add them to Attio list $CMO_SANDBOX_ATTIO_LIST, file the errors in Linear team $CMO_SANDBOX_LINEAR_TEAM, export a CSV"
echo "  cmo-plan run --yes \"$goal\""
# The same ledger as the writes above: the leads queued there are found in it and not sent again.
CMO_STATE_DIR="$writes" "$BIN/cmo-plan" run --yes --config pipelines/demo-campaign.yaml --now "$now" --runs-dir "$OUT/runs" \
  --job-id "$job" "$goal" || { s=$?; echo "demo: cmo-plan run failed ($s); its run directory: $OUT/runs/$job" >&2; exit $s; }
in_campaign_after=$(curl -s -H "Authorization: Bearer $INSTANTLY_API_KEY" -H 'Content-Type: application/json' -X POST \
  --data-binary "{\"campaign\":\"$CMO_SANDBOX_INSTANTLY_CAMPAIGN\",\"limit\":100}" "$INSTANTLY_API_URL/api/v2/leads/list" | jq '.items | length')
echo "  the sandbox's campaign holds $in_campaign_after leads (it held $in_campaign): nothing was sent twice; state in $OUT/runs/$job"

echo
echo "== the top three leads (of $(jq .rendered "$OUT/run/funnel.json") in $OUT/leads.csv)"
jq -nr 'limit(3; inputs) | "\(.score)  \(.login) <\(.best_email)>  [\(.copy.variant)]\n  Subject: \(.copy.subject)\n\(.copy.body | split("\n") | map("  | " + .) | join("\n"))\n"' \
  "$OUT/run/6-render-copy.ndjson"
