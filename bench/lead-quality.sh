#!/usr/bin/env bash
# Lead quality of a finished read-side run: do the leads match what was asked for?
#   bench/lead-quality.sh LEADS LANGUAGE [MIN_COMMITS=3]
# LEADS is a cmo-plan run directory (runs/<job_id>: its render-copy artifact that rendered the most,
# e.g. pipelines/demo.sh's OUT/runs/demo-…) or an NDJSON file of rendered leads (render-copy's output).
# LANGUAGE is the campaign's (python). Prints, for the leads:
#   - the share whose copy names LANGUAGE, and a repository that matched the search (target 100 %)
#   - how many name another language anywhere in subject or body (target 0)
#   - the share with at least MIN_COMMITS commits in the window
#   - how many have a role, disposable or no-reply best_email ready to send (target 0)
# Exits 1 when a target is missed, so it can guard a pipeline.
set -euo pipefail
run=${1:?usage: bench/lead-quality.sh LEADS LANGUAGE [MIN_COMMITS]}
language=${2:?usage: bench/lead-quality.sh LEADS LANGUAGE [MIN_COMMITS]}
min=${3:-3}
leads=$run
if [ -d "$run" ]; then
  [ -r "$run/state.json" ] || { echo "lead-quality: $run is not a cmo-plan run directory (no state.json)" >&2; exit 64; }
  leads="$run/$(jq -r '[.steps[] | select(.stage == "render-copy" and .status == "done")] | max_by(.counts.out) | .artifact // empty' "$run/state.json")"
fi
[ -r "$leads" ] && [ -f "$leads" ] || { echo "lead-quality: no rendered leads in $run" >&2; exit 64; }

jq -rn --arg lang "$language" --argjson min "$min" '
  # Languages a text may name; matched as whole words, outside owner/name repository names.
  def languages: ["Python","Go","Golang","Rust","TypeScript","JavaScript","Java","C","C++","C#","Ruby","Zig",
                  "Kotlin","Swift","PHP","Scala","Elixir","Haskell","Shell","Dart","Lua","Perl","R"];
  def esc: gsub("(?<c>[+#.])"; "\\\(.c)");
  def names($l): test("(^|[^A-Za-z0-9+#])" + ($l | esc) + "($|[^A-Za-z0-9+#])");
  [inputs] as $all
  | ($all | length) as $n
  | [ $all[] |
      ((.copy.subject // "") + "\n" + (.copy.body // "")) as $text
      | ($text | gsub("[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+"; " ")) as $prose
      | (.signals.repo // null) as $repo
      | {
          lang: ($prose | ascii_downcase | names($lang | ascii_downcase)),
          repo: ($repo != null and ($text | contains($repo))
                 and ((.signals.repo_language // "") | ascii_downcase) == ($lang | ascii_downcase)),
          other: [languages[] | select(ascii_downcase != ($lang | ascii_downcase)) as $l
                  | select($prose | names($l)) | $l],
          commits: ((.signals.commits_90d // 0) >= $min),
          role: (.best_email as $b | [(.email_checks // [])[] | select(.address == $b)
                 | .flags | (.role or .disposable or .noreply)] | any)
        } ]
  | def pct(f): if $n == 0 then "n/a" else "\(([.[] | select(f)] | length) * 1000 / $n | round / 10) %" end;
  "leads                                   \($n)",
  "copy names \($lang) and a matching repo   \(pct(.lang and .repo))   (names \($lang): \(pct(.lang)), names the repo: \(pct(.repo)))",
  "copy names another language            \([.[] | select(.other | length > 0)] | length)   \([.[].other[]] | group_by(.) | map("\(.[0]) \(length)") | join(", "))",
  "with >= \($min) commits in the window        \(pct(.commits))",
  "role/disposable/no-reply best_email    \([.[] | select(.role)] | length)",
  (if $n > 0 and ([.[] | select((.lang and .repo) | not)] | length) == 0 and ([.[] | select(.other | length > 0)] | length) == 0
      and ([.[] | select(.role)] | length) == 0 then "targets met" else "TARGET MISSED" end)
' "$leads" | tee /dev/stderr | tail -1 | grep -q "targets met"
