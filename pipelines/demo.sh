#!/usr/bin/env bash
# The main job, offline: cmo-sandbox plays GitHub, DNS, Instantly, Attio, Linear and an
# OpenAI-compatible model on loopback, and one goal in plain words runs end to end through cmo-plan:
# discovery (search → people → enrich → verify → score → copy, each email opening with a "why now"
# line from the sandbox's model) → one approval (--yes) → Instantly → Attio → Linear (the run's dead
# letters, if any) → CSV, ending with the funnel and what was written where. Then the same goal runs
# again as a new job and writes nothing twice. Last, the loop closes: cmo-hooks receives what
# Instantly sends back while the sandbox's clock moves a week (replies, bounces, unsubscribes), does
# what each event means once, and the job's status and report show the outcomes by variant, checked
# against the sandbox's truth.
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
hooks=""
trap '[ -n "$hooks" ] && kill $hooks 2>/dev/null; kill $sandbox 2>/dev/null; wait $sandbox 2>/dev/null; rm -rf "$work"' EXIT
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
echo "== what comes back: Instantly's webhooks into cmo-hooks while the sandbox's clock moves a week"
# The receiver, on a free port (it names it on stderr); register points the campaign's webhook at it, with the
# secret in a header Instantly sends on every delivery.
export CMO_HOOKS_SECRET="demo-hooks-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
"$BIN/cmo-hooks" serve --port 0 >"$work/events.ndjson" 2>"$work/hooks.log" &
hooks=$!
port=""
for _ in $(seq 100); do
  port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$work/hooks.log" | head -1)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "demo: cmo-hooks serve did not start:" >&2; cat "$work/hooks.log" >&2; exit 69; }
"$BIN/cmo-hooks" register -q --campaign "$CMO_SANDBOX_INSTANTLY_CAMPAIGN" --url "http://127.0.0.1:$port/" |
  jq -r '"  webhook \(.id): \(.action)"'
curl -s -X POST "$CMO_SANDBOX_URL/_sandbox/instantly/advance" -d '{"days":7}' |
  jq -r '"  a week later, Instantly says: " + (.events | to_entries | map("\(.value) \(.key)") | join(", "))'
for _ in $(seq 300); do
  [ "$(curl -s "$CMO_SANDBOX_URL/_sandbox/instantly/deliveries" | jq '.pending')" = 0 ] && break
  sleep 0.1
done
"$BIN/cmo-hooks" catch-up -q >>"$work/events.ndjson" # anything the receiver missed, from webhook-events
echo "  received and stored once: $(wc -l <"$work/events.ndjson" | tr -d ' ') events (CMO_STATE_DIR/hooks.sqlite)"
echo "  what they do, once each (cmo-hooks apply: suppression, block list, stop elsewhere, hot replies, Attio notes):"
"$BIN/cmo-hooks" apply -q --team "$CMO_SANDBOX_LINEAR_TEAM" | jq -r '"\(.effect) \(.status)"' | sort | uniq -c | sed 's/^/   /'
"$BIN/cmo-plan" status "$job" --runs-dir "$OUT/runs" | awk '/^outcomes from Instantly/ { p = 1; print "  " $0; next } p && /^  / { print "  " $0; next } { p = 0 }'
"$BIN/cmo-plan" report "$job" --runs-dir "$OUT/runs" >/dev/null
# The report's figures, by variant, against what the sandbox's world decided for this job's leads.
curl -s "$CMO_SANDBOX_URL/_sandbox/instantly/truth" >"$work/truth.json"
jq -n --slurpfile sent "$run/$(jq -r '[.steps[] | select(.stage == "send-instantly")][-1].artifact' "$run/state.json")" \
  --slurpfile truth "$work/truth.json" --slurpfile report "$run/report.json" '
  ($sent | map(select(.instantly.status == "queued") | {key: (.best_email | ascii_downcase), value: (.copy.variant // "-")}) | from_entries) as $variant
  | [$truth[0].events[] | select(.lead_email != null and $variant[.lead_email | ascii_downcase] != null)] as $events
  | def leads(f): [$events[] | select(f) | .lead_email] | unique;
    ($events | group_by($variant[.lead_email | ascii_downcase]) | map({key: $variant[.[0].lead_email | ascii_downcase], value: .}) | from_entries) as $by
  | [$by | to_entries[] | .key as $v | .value as $e
      | {variant: $v, sent: ([$e[].lead_email] | unique | length),
         replied: ([$e[] | select(.event_type | IN("reply_received", "lead_interested", "lead_not_interested", "lead_wrong_person")) | .lead_email] | unique | length),
         interested: ([$e[] | select(.event_type == "lead_interested") | .lead_email] | unique | length),
         bounced: ([$e[] | select(.event_type == "email_bounced") | .lead_email] | unique | length),
         unsubscribed: ([$e[] | select(.event_type == "lead_unsubscribed") | .lead_email] | unique | length)}
      | . as $t | ($report[0].outcomes.by_variant[$v] // {}) as $r
      | {variant: $v, truth: $t, equal: ([("sent", "replied", "interested", "bounced", "unsubscribed") | $t[.] == ($r[.] // 0)] | all)}]' \
  >"$work/outcomes-check.json"
if jq -e 'length > 0 and all(.equal)' "$work/outcomes-check.json" >/dev/null; then
  echo "  report.json's outcomes by variant equal the sandbox's truth ($(jq -r 'map("\(.variant): \(.truth.sent) sent, \(.truth.replied) replied") | join("; ")' "$work/outcomes-check.json"))"
else
  echo "demo: report.json's outcomes differ from the sandbox's truth:" >&2; jq -c '.[]' "$work/outcomes-check.json" >&2; exit 1
fi
kill "$hooks" 2>/dev/null; wait "$hooks" 2>/dev/null || true; hooks=""

echo
copy="$run/$(jq -r '[.steps[] | select(.stage == "render-copy" and .status == "done")] | max_by(.counts.out).artifact' "$run/state.json")"
echo "== the top three leads (of $(wc -l <"$copy" | tr -d ' ') in $run/exports/leads.csv)"
jq -nr 'limit(3; inputs) | "\(.score)  \(.login) <\(.best_email)>  [\(.copy.variant)]\n  Subject: \(.copy.subject)\n\(.copy.body | split("\n") | map("  | " + .) | join("\n"))\n"' "$copy"
[ -s "$run/report.html" ] && [ -s "$run/report.json" ] || { echo "demo: the run wrote no report" >&2; exit 1; }
echo "the run's report (open it in a browser, offline): $run/report.html (figures: report.json)"
echo "state, artifacts and events: $run (cmo-plan status $job --runs-dir $OUT/runs)"
