#!/usr/bin/env bash
# The read side of a campaign, one stage per line:
#   GitHub search → people who commit → profiles → verified emails → ICP score → copy → CSV
#
#   pipelines/discover.sh [options] QUERY COUNT OUT.csv
#
#   QUERY    a GitHub repository search ('language:python stars:>=50')
#   COUNT    leads wanted: the best COUNT by score, each with a deliverable email and rendered copy
#   OUT.csv  the CSV, replaced only when every stage succeeded (a failed run leaves the last good one)
#
# Options
#   --active-days N   commits in the last N days count, and repositories pushed to in them (default 90)
#   --people N        people to find before verifying and scoring (default 3 × COUNT)
#   --min-verdict V   weakest best-email verdict kept: safe or risky (default risky)
#   --icp FILE        scoring features and weights (default examples/icp.yaml)
#   --template FILE   a copy template; repeat for A/B variants (default examples/templates/*.yaml)
#   --config FILE     shared YAML settings, e.g. the campaign's sender and unsubscribe link
#                     (default examples/campaign.yaml)
#   --llm             an OpenAI-compatible model writes each lead's "why now" line (OPENAI_API_KEY,
#                     OPENAI_BASE_URL, CMO_LLM_MODEL); a lead the model fails on is dead-lettered
#   --now ISO         the time windows and recency count back from (default: now)
#   --keep DIR        keep every stage's output (DIR/1-gh-search.ndjson …), its log and the dead letters
#   --lock FILE       lock held for the run (default $CMO_STATE_DIR/discover.lock)
#   -q, --quiet       print nothing unless something goes wrong (for cron)
#
# Environment: GITHUB_TOKEN (and GITHUB_API_URL), CMO_DNS_SERVER, CMO_STATE_DIR, CMO_BIN (where the
# stage binaries are; default .build/release, then PATH). Any stage can be replaced by a program
# that reads and writes NDJSON: GH_SEARCH, GH_PEOPLE, GH_ENRICH, MX_CHECK, SCORE_ICP, RENDER_COPY,
# EXPORT_CSV (see pipelines/README.md).
#
# Exit status: 0 done; 75 another run holds the lock, or a service asked to wait longer than
# --max-wait (re-run later); otherwise the status of the first stage that failed (64 usage, 65 bad
# input, 69 service down, 77 credentials rejected, 78 bad configuration, 1 internal error), with
# that stage's log on stderr.
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
usage() { sed -n '2,/^set -uo/p' "$0" | sed -e '/^set -uo/d' -e 's/^# \{0,1\}//' >&2; exit 64; }
die() { echo "discover: $*" >&2; exit 64; }

active_days=90 people="" min_verdict=risky icp="$here/examples/icp.yaml" config="$here/examples/campaign.yaml"
now="" keep="" lock="" quiet=0 templates=() llm=()
args=()
while (($#)); do
  case "$1" in
    --active-days) active_days=${2:?}; shift 2 ;;
    --people) people=${2:?}; shift 2 ;;
    --min-verdict) min_verdict=${2:?}; shift 2 ;;
    --icp) icp=${2:?}; shift 2 ;;
    --template) templates+=("${2:?}"); shift 2 ;;
    --config) config=${2:?}; shift 2 ;;
    --now) now=${2:?}; shift 2 ;;
    --llm) llm=(--llm); shift ;;
    --keep) keep=${2:?}; shift 2 ;;
    --lock) lock=${2:?}; shift 2 ;;
    -q | --quiet) quiet=1; shift ;;
    -h | --help) usage ;;
    --) shift; args+=("$@"); break ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) args+=("$1"); shift ;;
  esac
done
((${#args[@]} == 3)) || usage
query=${args[0]} count=${args[1]} out=${args[2]}
[[ $count =~ ^[1-9][0-9]*$ ]] || die "COUNT must be a positive number, not '$count'"
[[ $active_days =~ ^[1-9][0-9]*$ ]] || die "--active-days must be a positive number"
people=${people:-$((count * 3))}
[[ $people =~ ^[1-9][0-9]*$ ]] || die "--people must be a positive number"
[[ $min_verdict == safe || $min_verdict == risky ]] || die "--min-verdict must be safe or risky"
((${#templates[@]})) || templates=("$here"/examples/templates/*.yaml)
for f in "$icp" "$config" "${templates[@]}"; do [ -r "$f" ] || die "cannot read '$f'"; done

bin=${CMO_BIN:-$here/.build/release}
stage() { # the command for a stage: its override variable, else the built binary, else PATH
  local var=$1 name=$2
  if [ -n "${!var:-}" ]; then echo "${!var}"
  elif [ -x "$bin/$name" ]; then echo "$bin/$name"
  else command -v "$name" || { echo "discover: '$name' not found (run bin/setup, or set CMO_BIN)" >&2; exit 69; }
  fi
}
GH_SEARCH=$(stage GH_SEARCH gh-search) || exit
GH_PEOPLE=$(stage GH_PEOPLE gh-people) || exit
GH_ENRICH=$(stage GH_ENRICH gh-enrich) || exit
MX_CHECK=$(stage MX_CHECK mx-check) || exit
SCORE_ICP=$(stage SCORE_ICP score-icp) || exit
RENDER_COPY=$(stage RENDER_COPY render-copy) || exit
EXPORT_CSV=$(stage EXPORT_CSV export-csv) || exit

# One run at a time per state directory: a cron run that finds the last one still going stops.
state=${CMO_STATE_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/cmo}
lock=${lock:-$state/discover.lock}
mkdir -p "$(dirname "$lock")"
exec 9>"$lock"
if ! flock -n 9; then
  echo "discover: another run holds $lock; not starting (exit 75: try again later)" >&2
  exit 75
fi

if [ -n "$keep" ]; then
  work=$keep
  mkdir -p "$work"
  rm -f "$work"/[0-9]-*.ndjson "$work"/[0-9]-*.log "$work/dead-letters.ndjson"
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/cmo-discover.XXXXXX")
fi
dead="$work/dead-letters.ndjson"
partial="$out.partial.$$" # renamed to OUT.csv only when every stage succeeded
trap 'rm -f "$partial"' EXIT
[ -z "$keep" ] && trap 'rm -f "$partial"; rm -rf "$work"' EXIT
: >"$dead"
: >"$work/tee.log"
now_flags=() asof_flags=()
[ -n "$now" ] && now_flags=(--now "$now") && asof_flags=(--as-of "$now")
# Stages log to their own files (never to the terminal), with their summary line, even with -q.
log_flags=(--dead-letter "$dead")

# Each stage's output is kept (for the funnel, and for --keep); its stderr goes to its own log.
"$GH_SEARCH" "${log_flags[@]}" "${now_flags[@]}" --query "$query" --active-days "$active_days" --max-repos "$people" 2>"$work/1-gh-search.log" |
  tee "$work/1-gh-search.ndjson" 2>>"$work/tee.log" |
  "$GH_PEOPLE" "${log_flags[@]}" "${now_flags[@]}" --since-days "$active_days" --max-people "$people" 2>"$work/2-gh-people.log" |
  tee "$work/2-gh-people.ndjson" 2>>"$work/tee.log" |
  "$GH_ENRICH" "${log_flags[@]}" 2>"$work/3-gh-enrich.log" |
  tee "$work/3-gh-enrich.ndjson" 2>>"$work/tee.log" |
  "$MX_CHECK" "${log_flags[@]}" --min-verdict "$min_verdict" 2>"$work/4-mx-check.log" |
  tee "$work/4-mx-check.ndjson" 2>>"$work/tee.log" |
  "$SCORE_ICP" "${log_flags[@]}" "${asof_flags[@]}" --icp "$icp" --top "$count" 2>"$work/5-score-icp.log" |
  tee "$work/5-score-icp.ndjson" 2>>"$work/tee.log" |
  "$RENDER_COPY" "${log_flags[@]}" --config "$config" "${templates[@]/#/--template=}" --require-unsubscribe "${llm[@]}" 2>"$work/6-render-copy.log" |
  tee "$work/6-render-copy.ndjson" 2>>"$work/tee.log" |
  "$EXPORT_CSV" "${log_flags[@]}" -o "$partial" \
    --columns login,name,best_email,score,company,location,signals.primary_language,signals.repo_stars,signals.commits_90d \
    --column 'subject=.copy.subject' --column 'body=.copy.body' --column 'variant=.copy.variant' \
    2>"$work/7-export-csv.log"
statuses=("${PIPESTATUS[@]}")

# Stages are at even positions of the pipeline (tee in between).
names=(gh-search gh-people gh-enrich mx-check score-icp render-copy export-csv)
for i in "${!names[@]}"; do
  s=${statuses[$((i * 2))]}
  if [ "$s" != 0 ]; then
    n=${names[$i]}
    case $s in
      75) why="rate-limited or a service asked to wait too long: re-run later; finished work is reused" ;;
      77) why="credentials rejected" ;;
      78) why="bad configuration" ;;
      69) why="a service could not be reached" ;;
      64) why="bad flags" ;;
      65) why="bad input" ;;
      *) why="failed" ;;
    esac
    echo "discover: $n exited $s ($why); its log:" >&2
    tail -n 20 "$work/$((i + 1))-$n.log" | sed 's/^/  /' >&2
    [ -n "$keep" ] && echo "discover: every stage's output and log are in $keep" >&2
    exit "$s"
  fi
done
# A tee stops when the stage after it stops reading (gh-people does once it has --people people):
# SIGPIPE (141), or "Broken pipe" when SIGPIPE is ignored. Anything else is a failure to keep output.
for i in 1 3 5 7 9 11; do
  s=${statuses[$i]}
  [ "$s" = 0 ] || [ "$s" = 141 ] || ! grep -qv 'Broken pipe' "$work/tee.log" ||
    { echo "discover: keeping a stage's output in $work failed ($s): $(grep -v 'Broken pipe' "$work/tee.log" | head -1)" >&2; exit 74; }
done

mv -f "$partial" "$out" || { echo "discover: could not move the CSV into $out" >&2; exit 73; }

lines() { if [ -s "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }
funnel=(
  repositories "$(lines "$work/1-gh-search.ndjson")"
  people "$(lines "$work/2-gh-people.ndjson")"
  with_email "$(jq -c 'select(((.emails // []) | length) > 0 or ((.email // "") != ""))' "$work/3-gh-enrich.ndjson" | wc -l | tr -d ' ')"
  verified "$(lines "$work/4-mx-check.ndjson")"
  scored "$(lines "$work/5-score-icp.ndjson")"
  rendered "$(lines "$work/6-render-copy.ndjson")"
  dead_letters "$(lines "$dead")"
)
# The funnel as one JSON object, for monitoring (kept with --keep).
printf '%s\n' "${funnel[@]}" | jq -Rn '[inputs] | [range(0; length; 2) as $i | {(.[$i]): (.[$i + 1] | tonumber)}] | add' \
  >"$work/funnel.json"
if ((!quiet)); then
  {
    echo
    echo "funnel"
    printf '  repositories  %8s\n' "${funnel[1]}"
    printf '  people        %8s\n' "${funnel[3]}"
    printf '  with email    %8s\n' "${funnel[5]}"
    printf '  verified      %8s   best email %s or better\n' "${funnel[7]}" "$min_verdict"
    printf '  scored        %8s   the best %s by score\n' "${funnel[9]}" "$count"
    printf '  rendered      %8s   → %s\n' "${funnel[11]}" "$out"
    printf '  dead letters  %8s%s\n' "${funnel[13]}" "$([ -n "$keep" ] && echo "   in $dead")"
  } >&2
fi
exit 0
