#!/usr/bin/env bash
# The read side composed by hand, one stage per line, NDJSON between them:
#   GitHub search → people who commit → profiles → verified emails → ICP score → copy → CSV
#
#   pipelines/discover.sh [--config CAMPAIGN.yaml] [--now ISO] [--keep DIR] QUERY COUNT OUT.csv
#
#   QUERY    a GitHub repository search ('language:python stars:>=50'); its language: and topic:
#            terms are given to score-icp as the campaign's
#   COUNT    leads wanted: the best COUNT by score, each with a verified email and rendered copy
#   OUT.csv  written when every stage succeeded; a failed run leaves it as it was
#
# The campaign (--config, or CMO_CONFIG) names the sender and the unsubscribe link, and its sections
# set each stage's options (mx-check:, score-icp:, render-copy: …; see examples/campaign.yaml).
# Every stage prints its own summary line, warnings and errors on stderr, and its dead letters
# there too (CMO_DEAD_LETTER=FILE collects them). --keep DIR keeps every stage's output in
# DIR/artifacts/NN-<stage>.ndjson, its stderr in DIR/logs/NN-<stage>.log (JSON), the dead letters in
# DIR/dead-letters.ndjson, and ends with `cmo-plan report --dir DIR`: DIR/report.html and report.json. Any stage can be another command that reads and
# writes NDJSON — a fake, a script: GH_SEARCH, GH_PEOPLE, GH_ENRICH, MX_CHECK, SCORE_ICP,
# RENDER_COPY, EXPORT_CSV. The stages are found in CMO_BIN (default .build/release), then on PATH.
# The exit status is a failing stage's (set -o pipefail: the last one to fail), its message above it.
#
# This is the pipeline and nothing more. A run that is kept — every stage's output, the state after
# every step, resume after a kill, one run per job, the funnel, a health check before the CSV
# replaces the last good one, widening on a shortfall, and the writers — is cmo-plan's:
#   cmo-plan run --config CAMPAIGN.yaml -o OUT.csv "Find COUNT Python maintainers active in the last 90 days"
set -euo pipefail

usage() { echo "usage: pipelines/discover.sh [--config CAMPAIGN.yaml] [--now ISO] [--keep DIR] QUERY COUNT OUT.csv (--help for more)" >&2; exit 64; }
config=() now=() asof=() keep=""
while (($#)); do
  case "$1" in
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; exit 0 ;;
    --config) (($# >= 2)) || usage; config=(--config "$2"); shift 2 ;;
    --now) (($# >= 2)) || usage; now=(--now "$2") asof=(--as-of "$2"); shift 2 ;;
    --keep) (($# >= 2)) || usage; keep=$2; shift 2 ;;
    -?*) echo "discover: unknown option '$1'" >&2; usage ;;
    *) break ;;
  esac
done
(($# == 3)) || usage
query=$1 count=$2 out=$3
[[ $count =~ ^[1-9][0-9]*$ ]] || { echo "discover: COUNT must be a positive number, not '$count'" >&2; usage; }
PATH=${CMO_BIN:-$(cd "$(dirname "$0")/.." && pwd)/.build/release}:$PATH

# The campaign's languages and topics: the query's language: and topic: terms (not negated ones).
campaign=()
read -ra terms <<<"$query"
for term in ${terms[@]+"${terms[@]}"}; do
  case "$term" in language:?* | topic:?*) campaign+=("--${term%%:*}" "${term#*:}") ;; esac
done

# kept N NAME CMD…: runs a stage; with --keep, its output and its stderr are also written to DIR
# (stderr still shows, as text). Synchronous: the files are whole when the pipeline ends.
kept() {
  local n=$1 name=$2
  shift 2
  [ -n "$keep" ] || { "$@"; return; }
  { "$@" 2>&1 1>&3 3>&- | tee "$keep/logs/$n-$name.log" | as_text >&2; } 3>&1 | tee "$keep/artifacts/$n-$name.ndjson"
}
# A kept log is the stages' JSON (the summary the report reads, docs/contracts.md §6); on the terminal
# each line reads as the text format's (a line that is not JSON, from a fake, as it is).
as_text() {
  jq --unbuffered -rR '. as $line | (try fromjson catch null) as $o
    | if ($o | type) == "object" and ($o.msg | type) == "string" then
        "\($o.stage): " + (if $o.level == "info" then "" else "\($o.level): " end) + $o.msg
        + (if $o.event == "summary" then "" else ($o | del(.ts, .level, .stage, .event, .msg) | to_entries
             | map("\(.key)=\(.value | if type == "string" then . else tojson end)") | join(", ") | if . == "" then "" else " (\(.))" end) end)
      else $line end'
}
if [ -n "$keep" ]; then
  mkdir -p "$keep/artifacts" "$keep/logs"
  rm -f "$keep"/artifacts/*.ndjson "$keep"/logs/*.log "$keep/dead-letters.ndjson"
  export CMO_DEAD_LETTER=${CMO_DEAD_LETTER:-$keep/dead-letters.ndjson} CMO_LOG_FORMAT=json
fi

partial="$out.partial.$$"
trap 'rm -f "$partial"' EXIT
status=0
kept 01 gh-search ${GH_SEARCH:-gh-search} "${config[@]}" "${now[@]}" --query "$query" --max-repos "$((count * 3))" |
  kept 02 gh-people ${GH_PEOPLE:-gh-people} "${config[@]}" "${now[@]}" --max-people "$((count * 3))" |
  kept 03 gh-enrich ${GH_ENRICH:-gh-enrich} "${config[@]}" |
  kept 04 mx-check ${MX_CHECK:-mx-check} "${config[@]}" --min-verdict risky |
  kept 05 score-icp ${SCORE_ICP:-score-icp} "${config[@]}" "${asof[@]}" --top "$count" "${campaign[@]}" |
  kept 06 render-copy ${RENDER_COPY:-render-copy} "${config[@]}" --require-unsubscribe |
  kept 07 export-csv ${EXPORT_CSV:-export-csv} "${config[@]}" -o "$partial" \
    --columns login,name,best_email,score,company,location,signals.repo,signals.repo_language,signals.repo_stars,signals.commits_90d \
    --column 'subject=.copy.subject' --column 'body=.copy.body' --column 'variant=.copy.variant' || status=$?
if [ -n "$keep" ]; then
  report=$(cmo-plan report --dir "$keep") && echo "discover: report: $report" >&2 || echo "discover: warning: no report for $keep" >&2
fi
((status == 0)) || exit "$status"
mv -f "$partial" "$out"
