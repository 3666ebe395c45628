#!/usr/bin/env bash
# The read side of a campaign, one stage per line:
#   GitHub search → people who commit → profiles → verified emails → ICP score → copy → CSV
#
#   pipelines/discover.sh [options] --config CAMPAIGN.yaml QUERY COUNT OUT.csv
#
#   QUERY    a GitHub repository search ('language:python stars:>=50'); its language: and topic:
#            qualifiers are the campaign's, passed to score-icp as --language/--topic
#   COUNT    leads wanted: the best COUNT by score, each with a deliverable email and rendered copy
#   OUT.csv  the CSV, replaced only by a successful, healthy run (any other run leaves the last good one)
#
# Options
#   --config FILE     the campaign (required; or CMO_CONFIG): its sender, unsubscribe link and templates
#                     (see examples/campaign.yaml, pipelines/demo-campaign.yaml). Every stage reads it,
#                     so a section named after a stage (mx-check:, score-icp:) sets that stage's options
#   --active-days N   commits in the last N days count, and repositories pushed to in them (default 90)
#   --people N        people to find before verifying and scoring (default 3 × COUNT; also the number
#                     of repositories searched at most)
#   --min-commits N   commits in the window a person needs to count as a maintainer (gh-people's default: 3)
#   --min-verdict V   weakest best-email verdict kept: safe or risky (default risky)
#   --allow-role      role, disposable and no-reply addresses (admin@, hello@) may be a lead's best email
#   --icp FILE        scoring features and weights (default: the config's 'icp', else the built-in profile)
#   --template FILE   a copy template; repeat for A/B variants (default: the config's 'template' list)
#   --llm             an OpenAI-compatible model writes each lead's "why now" line (OPENAI_API_KEY,
#                     OPENAI_BASE_URL, CMO_LLM_MODEL); a lead the model fails on is dead-lettered
#   --now ISO         the time windows and recency count back from (default: now)
#   --max-dead-share P  fail (exit 65) when any stage dead-lettered more than P% of the records it read
#                     (default 20)
#   --keep DIR        keep this run's folder in DIR, whatever happens (default: a folder under
#                     $CMO_STATE_DIR/runs/, kept only when the run failed or dead-lettered something)
#   --lock FILE       lock held for the run (default $CMO_STATE_DIR/discover.lock)
#   -q, --quiet       print nothing unless something goes wrong (for cron)
#   -h, --help        this text
#
# The run folder holds each stage's output (1-gh-search.ndjson … 6-render-copy.ndjson), its log
# (1-gh-search.log … 7-export-csv.log), dead-letters.ndjson and funnel.json. On a terminal one
# progress line shows the stage running, the records each stage wrote so far, and any wait.
#
# Environment: GITHUB_TOKEN (and GITHUB_API_URL), CMO_DNS_SERVER, CMO_STATE_DIR, CMO_CONFIG, CMO_BIN
# (where the stage binaries are; default .build/release, then PATH). Any stage can be replaced by a
# program that reads and writes NDJSON: GH_SEARCH, GH_PEOPLE, GH_ENRICH, MX_CHECK, SCORE_ICP,
# RENDER_COPY, EXPORT_CSV (see pipelines/README.md).
#
# Exit status: 0 done (fewer leads than COUNT is not an error: the shortfall is said); 65 the run
# finished but is not healthy: no lead rendered, or a stage dead-lettered more than --max-dead-share
# of its records; 75 another run holds the lock, or a service asked to wait longer than --max-wait
# (re-run later); 78 no campaign config, or one that cannot be read or that a stage refuses;
# otherwise the status of the first stage that failed (64 usage, 69 service down, 77 credentials
# rejected, 1 internal error), with that stage's log on stderr. OUT.csv is then left as it was, and
# a run that got as far as the search names the run folder it kept. Stages' warnings (a search that
# found nothing, a DNS server that never answered) are printed whatever happens, -q or not.
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
usage() { sed -n '2,/^set -uo/p' "$0" | sed -e '/^set -uo/d' -e 's/^# \{0,1\}//'; exit 0; }
die() {
  echo "discover: $*" >&2
  echo "usage: pipelines/discover.sh [options] --config CAMPAIGN.yaml QUERY COUNT OUT.csv (--help for more)" >&2
  exit 64
}
config_error() { echo "discover: $*" >&2; exit 78; }
number() { [[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1 must be a positive number, not '$2'"; }

active_days=90 people="" min_commits="" min_verdict=risky icp="" config="" max_dead_share=20
now="" keep="" lock="" quiet=0 templates=() llm=() allow_role=()
args=()
while (($#)); do
  case "$1" in --[a-z]*=*) set -- "${1%%=*}" "${1#*=}" "${@:2}" ;; esac # --opt=value
  case "$1" in
    --active-days | --people | --min-commits | --min-verdict | --icp | --template | --config | --now | \
      --max-dead-share | --keep | --lock)
      (($# >= 2)) && [ -n "$2" ] || die "option '$1' needs a value"
      case "$1" in
        --active-days) active_days=$2 ;;
        --people) people=$2 ;;
        --min-commits) min_commits=$2 ;;
        --min-verdict) min_verdict=$2 ;;
        --icp) icp=$2 ;;
        --template) templates+=("$2") ;;
        --config) config=$2 ;;
        --now) now=$2 ;;
        --max-dead-share) max_dead_share=${2%\%} ;;
        --keep) keep=$2 ;;
        --lock) lock=$2 ;;
      esac
      shift 2 ;;
    --llm) llm=(--llm); shift ;;
    --allow-role) allow_role=(--allow-role); shift ;;
    -q | --quiet) quiet=1; shift ;;
    -h | --help) usage ;;
    --) shift; args+=("$@"); break ;;
    -?*) die "unknown option '$1'" ;;
    *) args+=("$1"); shift ;;
  esac
done
((${#args[@]} == 3)) || die "expected QUERY COUNT OUT.csv, got ${#args[@]} argument(s)"
query=${args[0]} count=${args[1]} out=${args[2]}
number COUNT "$count"
number --active-days "$active_days"
people=${people:-$((count * 3))}
number --people "$people"
[ -z "$min_commits" ] || number --min-commits "$min_commits"
[[ $min_verdict == safe || $min_verdict == risky ]] || die "--min-verdict must be safe or risky, not '$min_verdict'"
[[ $max_dead_share =~ ^([0-9]+(\.[0-9]*)?|\.[0-9]+)$ ]] && awk -v p="$max_dead_share" 'BEGIN { exit !(p <= 100) }' ||
  die "--max-dead-share must be a percentage from 0 to 100, not '$max_dead_share'"
[[ $out == */ || -d $out ]] && die "OUT.csv must be a file name, not the directory '$out'"

# The campaign names who writes and how to opt out; there is no default sender.
config=${config:-${CMO_CONFIG:-}}
[ -n "$config" ] || config_error "no campaign config: pass --config FILE with the campaign's sender and unsubscribe URL" \
  "(start from a copy of examples/campaign.yaml; pipelines/demo-campaign.yaml is the sandbox's)"
for f in "$config" ${icp:+"$icp"} ${templates[@]+"${templates[@]}"}; do
  [ -r "$f" ] || config_error "cannot read '$f'"
done

# The campaign's languages and topics, from the query's qualifiers (not negated ones).
icp_flags=()
rest=$query
re='(^|[[:space:]])(language|topic):("([^"]*)"|([^[:space:]"]+))'
while [[ $rest =~ $re ]]; do
  value=${BASH_REMATCH[4]:-${BASH_REMATCH[5]}}
  [ -n "$value" ] && icp_flags+=("--${BASH_REMATCH[2]}" "$value")
  rest=${rest#*"${BASH_REMATCH[0]}"}
done

bin=${CMO_BIN:-$here/.build/release}
score_override=${SCORE_ICP:-} copy_override=${RENDER_COPY:-}
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
names=(gh-search gh-people gh-enrich mx-check score-icp render-copy export-csv)

# One run at a time per state directory: a cron run that finds the last one still going stops.
# Everything discover.sh creates there is private (0700), as the stages' own files are; OUT.csv
# gets the caller's umask (the stages run with it).
caller_umask=$(umask)
umask 077
state=${CMO_STATE_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/cmo}
mkdir -p "$state" || config_error "cannot create the state directory '$state'"
lock=${lock:-$state/discover.lock}
mkdir -p "$(dirname "$lock")" && exec 9>"$lock" || config_error "cannot open the lock '$lock'"
if ! flock -n 9; then
  echo "discover: another run holds $lock; not starting (exit 75: try again later)" >&2
  exit 75
fi

alive() { kill -0 "$1" 2>/dev/null || [ -d "/proc/$1" ]; }
# A killed run leaves its partial CSV (OUT.partial.PID, export-csv's .OUT.partial.PID.tmp-PID2):
# remove those whose processes are gone.
outdir=$(dirname "$out") base=$(basename "$out")
for f in "$outdir/$base".partial.* "$outdir/.$base".partial.*.tmp-*; do
  [ -e "$f" ] || continue
  rest=${f##*/} && rest=${rest#.} && rest=${rest#"$base".partial.}
  pid=${rest%%.*} child=${rest##*.tmp-}
  [[ $pid =~ ^[0-9]+$ ]] || continue
  alive "$pid" || { [[ $rest == *.tmp-* && $child =~ ^[0-9]+$ ]] && alive "$child"; } || rm -f "$f"
done

# The run folder: --keep DIR, else one per run under the state directory, removed at the end of a
# clean run (no failure, no dead letter); the newest 10 kept ones stay, older ones are pruned.
runs=$state/runs
if [ -n "$keep" ]; then
  work=$keep
  mkdir -p "$work" || config_error "cannot create '$work'"
  rm -f "$work"/[0-9]-*.ndjson "$work"/[0-9]-*.log "$work"/dead-letters.ndjson "$work"/funnel.json "$work"/preflight-*.log
else
  mkdir -p "$runs" || config_error "cannot create '$runs'"
  ls -1dt "$runs"/discover-* 2>/dev/null | tail -n +10 | while read -r d; do alive "${d##*-}" || rm -rf "$d"; done
  work=$runs/discover-$(date -u +%Y%m%dT%H%M%SZ)-$$
  mkdir -p "$work" || config_error "cannot create '$work'"
fi
dead="$work/dead-letters.ndjson"
partial="$out.partial.$$" # renamed to OUT.csv only when the run succeeded and is healthy
clean_exit=0 progress_pid=""
finish() {
  [ -n "$progress_pid" ] && { kill "$progress_pid" 2>/dev/null; wait "$progress_pid" 2>/dev/null; printf '\r\033[K' >&2; }
  rm -f "$partial"
  ((clean_exit)) && [ -z "$keep" ] && rm -rf "$work"
}
trap finish EXIT
trap 'echo "discover: interrupted; this run'"'"'s folder is $work" >&2; exit 130' INT TERM HUP
: >"$dead"
: >"$work/tee.log"
umask "$caller_umask"
now_flags=() asof_flags=()
[ -n "$now" ] && now_flags=(--now "$now") && asof_flags=(--as-of "$now")
# Stages log to their own files (never to the terminal), with their summary line, even with -q.
common=(--config "$config" --dead-letter "$dead")
people_flags=(--since-days "$active_days" --max-people "$people")
[ -n "$min_commits" ] && people_flags+=(--min-commits "$min_commits")
score_flags=(--top "$count" ${icp:+--icp "$icp"} ${icp_flags[@]+"${icp_flags[@]}"})
copy_flags=(${templates[@]+"${templates[@]/#/--template=}"} --require-unsubscribe ${llm[@]+"${llm[@]}"})

# Before any request: the stages that only read files check their settings on empty input, so a bad
# ICP, a missing template or an example campaign stops the run now, not after the search.
preflight() { # name command args…
  local name=$1 s
  shift
  "$@" </dev/null >/dev/null 2>"$work/preflight-$name.log"
  s=$?
  if ((s != 0)); then
    echo "discover: $name refuses these settings (exit $s), so nothing was searched:" >&2
    grep -v " in, .* out, " "$work/preflight-$name.log" | tail -n 20 | sed 's/^/  /' >&2
    clean_exit=1 # nothing ran: no run folder to keep
    exit "$s"
  fi
}
quiet_common=(--config "$config" --dead-letter /dev/null)
[ -z "$score_override" ] && preflight score-icp "$SCORE_ICP" "${quiet_common[@]}" "${asof_flags[@]}" "${score_flags[@]}"
[ -z "$copy_override" ] && preflight render-copy "$RENDER_COPY" "${quiet_common[@]}" "${copy_flags[@]}"

lines() { if [ -s "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }
summary() { grep -a "^$1: [0-9]* in, " "$2" 2>/dev/null | tail -n 1; } # a stage's summary line in its log
extra() { summary "$1" "$2" | grep -o "; $3=[0-9]*" | head -n 1 | cut -d= -f2; } # one of its key=value extras

# One live line on a terminal: the first stage still running, what each stage wrote so far, any wait.
progress() {
  local labels=(search people enrich verify score copy) started=$SECONDS cols i text current wait last secs age
  while alive $$; do
    text="" current="" wait=""
    for i in 0 1 2 3 4 5; do
      text+="${text:+ → }${labels[$i]} $(lines "$work/$((i + 1))-${names[$i]}.ndjson")"
      if [ -z "$current" ] && ! summary "${names[$i]}" "$work/$((i + 1))-${names[$i]}.log" | grep -q .; then
        current=${names[$i]}
        last=$(tail -n 1 "$work/$((i + 1))-$current.log" 2>/dev/null)
        if [[ $last =~ (waiting|pausing it for)\ ([0-9]+)(\.[0-9]+)?\ ?s(\ for\ (.*))? ]]; then
          age=$(($(date +%s) - $(stat -c %Y "$work/$((i + 1))-$current.log" 2>/dev/null || date +%s)))
          secs=$((BASH_REMATCH[2] - age))
          why=${BASH_REMATCH[5]:-$last}
          case $why in *"'search'"*) why="GitHub's search limit" ;; *"'graphql'"*) why="GitHub's GraphQL limit" ;;
            *"'core'"*) why="GitHub's REST limit" ;; esac
          ((secs > 0)) && wait=" · waiting $secs s for ${why:0:60}"
        fi
      fi
    done
    current=${current:-export-csv}
    cols=$({ stty size </dev/tty || echo "0 80"; } 2>/dev/null | cut -d' ' -f2)
    text="discover: $current · $text$wait · $((SECONDS - started)) s"
    printf '\r\033[K%s' "${text:0:$((cols - 1))}" >&2
    sleep 0.5
  done
}
if ((!quiet)) && [ -t 2 ] && [ "${TERM:-dumb}" != dumb ]; then
  progress &
  progress_pid=$!
fi

# Each stage's output is kept (for the funnel and the run folder); its stderr goes to its own log.
"$GH_SEARCH" "${common[@]}" "${now_flags[@]}" --query "$query" --active-days "$active_days" --max-repos "$people" 2>"$work/1-gh-search.log" |
  tee "$work/1-gh-search.ndjson" 2>>"$work/tee.log" |
  "$GH_PEOPLE" "${common[@]}" "${now_flags[@]}" "${people_flags[@]}" 2>"$work/2-gh-people.log" |
  tee "$work/2-gh-people.ndjson" 2>>"$work/tee.log" |
  "$GH_ENRICH" "${common[@]}" 2>"$work/3-gh-enrich.log" |
  tee "$work/3-gh-enrich.ndjson" 2>>"$work/tee.log" |
  "$MX_CHECK" "${common[@]}" --min-verdict "$min_verdict" ${allow_role[@]+"${allow_role[@]}"} 2>"$work/4-mx-check.log" |
  tee "$work/4-mx-check.ndjson" 2>>"$work/tee.log" |
  "$SCORE_ICP" "${common[@]}" "${asof_flags[@]}" "${score_flags[@]}" 2>"$work/5-score-icp.log" |
  tee "$work/5-score-icp.ndjson" 2>>"$work/tee.log" |
  "$RENDER_COPY" "${common[@]}" "${copy_flags[@]}" 2>"$work/6-render-copy.log" |
  tee "$work/6-render-copy.ndjson" 2>>"$work/tee.log" |
  "$EXPORT_CSV" "${common[@]}" -o "$partial" \
    --columns login,name,best_email,score,company,location,signals.repo,signals.repo_language,signals.repo_stars,signals.commits_90d \
    --column 'subject=.copy.subject' --column 'body=.copy.body' --column 'variant=.copy.variant' \
    2>"$work/7-export-csv.log"
statuses=("${PIPESTATUS[@]}")
if [ -n "$progress_pid" ]; then
  kill "$progress_pid" 2>/dev/null
  wait "$progress_pid" 2>/dev/null
  printf '\r\033[K' >&2
  progress_pid=""
fi

# A stage's warnings (a search that found nothing, a DNS server that never answered) are said
# whatever else happens, -q or not: they are how a run of zeros explains itself.
for i in "${!names[@]}"; do
  grep -a "^${names[$i]}: warning: " "$work/$((i + 1))-${names[$i]}.log" 2>/dev/null | head -n 5
done | sed 's/^/discover: /' >&2

# Stages are at even positions of the pipeline (tee in between).
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
    echo "discover: $out left as it was; this run's outputs, logs and dead letters are in $work" >&2
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

# The funnel, and each stage's dead-letter share: what it dead-lettered ÷ what it read (its summary's
# "N in"; gh-search reads no records: what it wrote plus what it dead-lettered).
repos=$(lines "$work/1-gh-search.ndjson")
found=$(lines "$work/2-gh-people.ndjson")
with_email=$(jq -c 'select(((.emails // []) | length) > 0 or ((.email // "") != ""))' "$work/3-gh-enrich.ndjson" 2>/dev/null | wc -l | tr -d ' ')
verified=$(lines "$work/4-mx-check.ndjson")
scored=$(lines "$work/5-score-icp.ndjson")
rendered=$(lines "$work/6-render-copy.ndjson")
dead_total=$(lines "$dead")
below=$(extra gh-people "$work/2-gh-people.log" below_min_commits)
role=$(extra mx-check "$work/4-mx-check.log" role_only)
worst="" worst_share=0
declare -A dead_by=()
while read -r n s; do [ -n "$s" ] && dead_by[$s]=$n; done < <(jq -r '.stage // "?"' "$dead" 2>/dev/null | sort | uniq -c)
for i in "${!names[@]}"; do
  n=${names[$i]} d=${dead_by[${names[$i]}]:-0}
  ((d > 0)) || continue
  read_n=$(summary "$n" "$work/$((i + 1))-$n.log" | sed -E 's/^[^:]*: ([0-9]+) in, .*/\1/')
  [ -n "$read_n" ] || read_n=$(lines "$work/$i-${names[$((i - 1))]}.ndjson")
  ((i == 0)) && read_n=$((repos + d))
  share=$(awk -v d="$d" -v n="$read_n" 'BEGIN { printf "%.1f", (n > 0 ? 100 * d / n : 100) }')
  if [ -z "$worst" ] || awk -v a="$share" -v b="$worst_share" 'BEGIN { exit !(a > b) }'; then
    worst=$n worst_share=$share worst_dead=$d worst_read=$read_n
  fi
done
healthy=1 reason=""
if ((rendered == 0)); then
  healthy=0 reason="no lead rendered"
  [ -n "$worst" ] && reason+=": $worst dead-lettered $worst_dead of the $worst_read records it read"
  ((repos == 0)) && reason+=": the search found no repository (check QUERY and --active-days)"
elif [ -n "$worst" ] && awk -v a="$worst_share" -v p="$max_dead_share" 'BEGIN { exit !(a > p) }'; then
  healthy=0 reason="$worst dead-lettered $worst_dead of the $worst_read records it read ($worst_share%, over --max-dead-share $max_dead_share%)"
fi

# Fewer leads than asked for: say where the funnel ran dry and what to widen.
shortfall=""
if ((rendered < count)); then
  commits=${min_commits:-3}
  stopped=$(summary gh-people "$work/2-gh-people.log" | grep -c "stopped_reading=true")
  if ((scored < count)); then
    if ((found < people)); then
      if ((repos < people && stopped == 0)); then
        shortfall="the search found only $repos repositories"
        widen="--active-days (now $active_days), a looser QUERY"
      else
        shortfall="$repos repositories gave only $found people"
        widen="--people (now $people)"
      fi
      [ -n "$below" ] && ((below > 0)) && shortfall+=" ($below left out by --min-commits $commits)" &&
        widen+=", a lower --min-commits (now $commits)"
    else
      shortfall="only $verified of $found people have a deliverable email"
      widen="--people (now $people)"
      [ "$min_verdict" = safe ] && widen+=", --min-verdict risky"
      [ -n "$role" ] && ((role > 0)) && ((${#allow_role[@]} == 0)) && widen+=", --allow-role ($role had only role addresses)"
    fi
    shortfall="$rendered of $count asked for: $shortfall; widen with $widen"
  else
    shortfall="$rendered of $count asked for: render-copy dead-lettered $((scored - rendered)); see $dead"
  fi
fi

# The funnel as one JSON object, for monitoring (in the run folder).
jq -n --argjson repositories "$repos" --argjson people "$found" --argjson with_email "$with_email" \
  --argjson verified "$verified" --argjson scored "$scored" --argjson rendered "$rendered" \
  --argjson dead_letters "$dead_total" --argjson asked "$count" --arg below "$below" --arg role "$role" \
  --arg shortfall "$shortfall" --arg failed "$reason" \
  '{repositories: $repositories, people: $people, with_email: $with_email, verified: $verified, scored: $scored,
    rendered: $rendered, dead_letters: $dead_letters, asked: $asked}
   + (if $below != "" then {below_min_commits: ($below | tonumber)} else {} end)
   + (if $role != "" then {role_only: ($role | tonumber)} else {} end)
   + (if $shortfall != "" then {shortfall: $shortfall} else {} end)
   + (if $failed != "" then {failed: $failed} else {} end)' >"$work/funnel.json"

if ((healthy)); then
  mv -f "$partial" "$out" || { echo "discover: could not move the CSV into $out" >&2; exit 73; }
fi
((healthy && dead_total == 0)) && clean_exit=1
kept() { ((clean_exit)) && [ -z "$keep" ] || echo "in $1"; }

if ((!quiet || !healthy)); then
  {
    # Each stage's summary, short: records in and out, dead letters, HTTP requests, time.
    echo
    printf '%-12s %7s %7s %9s %6s %13s %8s\n' stage in out filtered dead "HTTP (304s)" time
    for i in "${!names[@]}"; do
      n=${names[$i]} line=$(summary "${names[$i]}" "$work/$((i + 1))-${names[$i]}.log")
      if [[ $line =~ :\ ([0-9]+)\ in,\ ([0-9]+)\ out,\ ([0-9]+)\ filtered,\ ([0-9]+)\ dead-lettered,\ ([0-9]+)\ HTTP\ requests\ \(([0-9]+)\ free\ 304s\),\ ([0-9.]+)\ s ]]; then
        printf '  %-10s %7s %7s %9s %6s %13s %6s s\n' "$n" "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" "${BASH_REMATCH[3]}" \
          "${BASH_REMATCH[4]}" "${BASH_REMATCH[5]} (${BASH_REMATCH[6]})" "${BASH_REMATCH[7]}"
      else
        printf '  %-10s %7s\n' "$n" "(no summary: a replaced stage?)"
      fi
    done
    echo
    echo "funnel"
    row() { printf '  %-24s %6s%s\n' "$1" "$2" "${3:+   $3}"; }
    row repositories "$repos"
    row people "$found" "with ${min_commits:-3} or more commits in $active_days days"
    [ -n "$below" ] && row "dropped by --min-commits" "$below" "fewer commits than that"
    row "with email" "$with_email"
    row verified "$verified" "best email $min_verdict or better"
    [ -n "$role" ] && ((${#allow_role[@]} == 0)) &&
      row "role addresses excluded" "$role" "only role, disposable or no-reply addresses (--allow-role keeps them)"
    row scored "$scored" "the best $count by score"
    if ((healthy)); then
      row rendered "$rendered" "→ $out$( ((rendered < count)) && echo " ($rendered of $count asked for)")"
    else
      row rendered "$rendered" "nothing written: $out left as it was"
    fi
    row "dead letters" "$dead_total" "$(kept "$dead")"
    if ((!healthy)); then
      echo
      echo "discover: failed: $reason; $out left as it was"
      if ((dead_total > 0)); then
        echo "discover: the dead letters are in $dead — the most common:"
        jq -r '"\(.stage): \(.error.code // "?"): \(.error.message // "" | .[0:160])"' "$dead" 2>/dev/null | sort | uniq -c | sort -rn | head -n 3 | sed 's/^ */  /'
      fi
      echo "discover: every stage's output and log are in $work"
    elif [ -n "$shortfall" ]; then
      echo
      echo "discover: $shortfall"
    fi
  } >&2
elif [ -n "$shortfall" ]; then
  # -q prints nothing on success, but fewer leads than asked for is worth one line in cron's mail.
  echo "discover: $shortfall" >&2
fi
((healthy)) || exit 65
exit 0
