#!/usr/bin/env bash
# Lead quality of a finished read-side run: do the leads match what was asked for, and is every fact
# in the copy true for that person?
#   bench/lead-quality.sh LEADS LANGUAGE [MIN_COMMITS=3]
#   bench/lead-quality.sh --demo [COUNT=500] [DAYS=90] [DIR]
# --demo makes the run first, as pipelines/demo.sh does (cmo-sandbox --seed 42 --repos 12000
# --users 16000, the demo campaign with the model's "why now" line), for the goal "Find COUNT Python
# maintainers active in the last DAYS days, export a CSV" under --yes --widen (so a short first pass
# widens the window, as the issue's 60 → 365 days did), resuming after the sandbox model's rate limit;
# then checks it (LANGUAGE python). DIR (default a temporary directory, kept) holds the run;
# CMO_BIN the binaries (default .build/release).
# LEADS is a cmo-plan run directory (runs/<job_id>: its render-copy artifact that rendered the most,
# e.g. pipelines/demo.sh's OUT/runs/demo-…) or an NDJSON file of rendered leads (render-copy's output).
# LANGUAGE is the campaign's (python). Prints, for the leads:
#   - the share whose copy names LANGUAGE, and a repository that matched the search (target 100 %)
#   - how many name another language anywhere in subject or body (target 0)
#   - the share with at least MIN_COMMITS commits in the window
#   - false claims (target 0): every claim in subject and body compared with the record it came from:
#       count    "N commits" equals the person's count for the repository named in that sentence
#                (signals.repos[].commits_in_window), or their total in the window when none is named
#                (signals.commits_in_window); a count said to cover "the last D days" (or "in D days",
#                "recently", "the last few months", "this quarter", …) needs D = signals.window_days
#       repo     every OWNER/REPO named is one of the person's repositories with commits in the window
#       quote    every quoted title is one of the person's titles in the repository named (signals.repo
#                when the sentence names none)
#       stars    "N stars" equals the stars of the repository named (signals.repo when none is)
#       window   "the last D days" (or a vague "recently", "this quarter": 90, "this year": 365, …) is at
#                most signals.window_days, and the person's last commit (to the repository named) is
#                within those D days; and every lead's last commit is within its window
#   - merge/trivial titles quoted (target 0): merges, reverts, version or dependency bumps, README,
#     docs and typo fixes, "wip"
#   - login greetings (target 0): "Hi LOGIN," or a subject ending ", LOGIN?"
#   - role, disposable or no-reply best_email ready to send (target 0): by mx-check's flags, and by the
#     local part's shape (support547@, noreply-ci@, info.team@, sales-eu@) in case they missed one
# The first false claims are listed first, with the lead's login. Exits 1 when a target is missed,
# so it can guard a pipeline.
set -euo pipefail
if [ "${1:-}" = --demo ]; then
  count=${2:-500} days=${3:-90} dir=${4:-$(mktemp -d "${TMPDIR:-/tmp}/cmo-lead-quality.XXXXXX")}
  cd "$(dirname "$0")/.."
  BIN=${CMO_BIN:-$(pwd)/.build/release}
  [ -x "$BIN/cmo-sandbox" ] && [ -x "$BIN/cmo-plan" ] || { echo "lead-quality: no binaries in $BIN; run bin/setup first" >&2; exit 69; }
  mkdir -p "$dir" && dir=$(cd "$dir" && pwd)
  now=2026-11-20T00:00:00Z
  "$BIN/cmo-sandbox" --port 0 --seed 42 --repos 12000 --users 16000 --now "$now" --env-file "$dir/sandbox.env" \
    >/dev/null 2>"$dir/sandbox.log" &
  sandbox=$!
  trap 'kill $sandbox 2>/dev/null; wait $sandbox 2>/dev/null' EXIT
  for _ in $(seq 300); do [ -s "$dir/sandbox.env" ] && break; sleep 0.1; done
  [ -s "$dir/sandbox.env" ] || { echo "lead-quality: cmo-sandbox did not start" >&2; cat "$dir/sandbox.log" >&2; exit 69; }
  set -a
  . "$dir/sandbox.env"
  set +a
  rm -rf "$dir/state" "$dir/runs/q$count"
  export CMO_STATE_DIR="$dir/state" CMO_LLM_MODEL=cmo-writer
  sed -e "s|\[\.\./examples/templates\]|[$(pwd)/examples/templates]|" -e 's|^render-copy:$|render-copy:\n  llm: true|' \
    pipelines/demo-campaign.yaml >"$dir/campaign.yaml"
  status=0
  "$BIN/cmo-plan" run --yes --widen -q --config "$dir/campaign.yaml" --now "$now" --runs-dir "$dir/runs" --job-id "q$count" \
    "Find $count Python maintainers active in the last $days days, export a CSV" || status=$?
  while [ "$status" = 75 ]; do # the sandbox model's rate limit: wait it out, as a worker would
    sleep 65
    status=0
    "$BIN/cmo-plan" resume -q --runs-dir "$dir/runs" "q$count" || status=$?
  done
  ((status == 0)) || { echo "lead-quality: cmo-plan failed ($status); its run: $dir/runs/q$count" >&2; exit "$status"; }
  echo "run: $dir/runs/q$count" >&2
  set -- "$dir/runs/q$count" python
fi
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
  def repo_names: [scan("[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+") | sub("[.,;:]+$"; "")];
  # A title nobody would quote as the person'"'"'s work (written apart from gh-people'"'"'s CommitTitle).
  def trivial_title: ascii_downcase | test("^(merge (pull request|branch|remote|tag|commit)|merge .* (into|from) |revert|reapply|bump |bumps |v?[0-9]+(\\.[0-9]+)+\\S*$|release[: ]+v?[0-9]|chore|build\\(deps|wip\\b|\\[wip\\]|[.…]+$|initial commit|(update|create|add|delete) [^ ]+\\.[a-z0-9]+$|docs?[:( ])|readme|typo|changelog|dependabot|renovate|pre-commit autoupdate");
  # Role addresses by shape: a role word alone, with digits, or joined by - _ . to more (support547,
  # noreply-ci, info.team, sales-eu, eu-sales); short words (dev, team, hello) alone or with digits.
  def role_words: "info|marketing|sales|support|abuse|noc|security|postmaster|hostmaster|webmaster|admin|administrator|billing|contact|help|helpdesk|careers|jobs|office|press|privacy|legal|orders|accounts|enquiries|inquiries|feedback|sysadmins?|no-?reply|do-?not-?reply|mailer-daemon|notifications?|newsletter|unsubscribe|subscribe|engineering|devops";
  def weak_words: "www|uucp|ftp|usenet|news|hello|hr|team|all|everyone|list|media|root|tech|dev|devnull|it|ops|remove|spam";
  def role_shape: (split("@")[0] | ascii_downcase | sub("\\+.*$"; "")) as $l
    | ($l | test("^(" + role_words + ")([0-9]*|[-_.].+)$")) or ($l | test("^.+[-_.](" + role_words + ")[0-9]*$"))
      or ($l | test("^(" + weak_words + ")[0-9]*$"));
  # The days a time phrase in a sentence claims: "last 60 days", "in 90 days"; vague words by their usual span.
  def spans: [ (scan("(?:last|past|in)\\s+([0-9]+)\\s+days") | .[0] | tonumber),
               (if test("\\b(recent|recently|lately|this quarter|last quarter|(last|past) (few|couple of|three) months)\\b"; "i") then 90 else empty end),
               (if test("\\b(this|last|past) month\\b"; "i") then 30 else empty end),
               (if test("\\b(this|last|past) week\\b"; "i") then 7 else empty end),
               (if test("\\b(this|last|past) year\\b"; "i") then 365 else empty end) ];
  def stars_value: gsub(","; "") | if test("k$"; "i") then (sub("[kK]$"; "") | tonumber * 1000) else tonumber end;

  [inputs] as $all
  | ($all | length) as $n
  | [ $all[] |
      . as $lead
      | (.signals // {}) as $s
      | ((.copy.subject // "") + "\n" + (.copy.body // "")) as $text
      | ($text | gsub("[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+"; " ")) as $prose
      | ($s.repo // null) as $repo
      # The person'"'"'s repositories and their facts (records from before signals.repos: from_repos only).
      | (if ($s.repos | type) == "array" then $s.repos else [(.from_repos // [])[] | {repo: .}] end) as $repos
      | ($repos | map({key: (.repo | ascii_downcase), value: .}) | from_entries) as $facts
      | ($s.window_days // null) as $wd
      | (if $wd != null and ($s.window_start | type) == "string"
           then ($s.window_start | sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601) + $wd * 86400 else null end) as $now
      | def fresh($last; $d): $now != null and ($last | type) == "string"
            and (($last | sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601) >= $now - $d * 86400);
      # Sentences, with URLs and e-mail addresses taken out (the unsubscribe link is no repository).
      [ $text | gsub("https?://[^\\s]+|[^\\s@]+@[^\\s@]+"; " ") | splits("\n|(?<=[.!?])\\s+") | select(test("\\S")) ] as $sentences
      | [ $sentences[] | . as $sentence
          | [ scan("\"([^\"\n]+)\"|“([^”\n]+)”") | map(select(. != null)) | .[0] ] as $quotes
          | (gsub("\"[^\"\n]+\"|“[^”\n]+”"; " ‹quote› ")) as $bare
          | ($bare | repo_names) as $named
          | ($named[0] // $repo) as $about
          | (if $about == null then null else $facts[$about | ascii_downcase] end) as $f
          | ($bare | spans) as $days
          | ( # counts
              ( $bare | scan("([0-9][0-9,]*)\\s+commits?\\b") | .[0] | gsub(","; "") | tonumber ) as $c
              | (if $named[0] != null then $f.commits_in_window else $s.commits_in_window end) as $expected
              | {kind: "count", ok: ($expected != null and $c == $expected and ([$days[] | select(. != $wd)] | length) == 0),
                 says: "\($c) commits\(if $named[0] then " to " + $named[0] else "" end)\(if ($days | length) > 0 then " over \($days) days" else "" end)",
                 is: "\($expected) in \($wd) days"} ),
            ( # repositories named
              $named[] as $r | ($facts[$r | ascii_downcase]) as $rf
              | {kind: "repo", ok: ($rf != null and (($rf.commits_in_window // 1) >= 1)), says: $r, is: ($repos | map(.repo) | join(", "))} ),
            ( # quoted titles
              $quotes[] as $q
              | ($q | sub("…$"; "")) as $head
              | (if $f != null then ($f.commit_titles // []) + (if $about == $repo and $s.repo_commit_title then [$s.repo_commit_title] else [] end)
                 else [$repos[].commit_titles[]?] + ($s.recent_commit_titles // []) end) as $titles
              | {kind: "quote", ok: ([$titles[] | select(. == $q or ($q != $head and startswith($head)))] | length > 0),
                 says: $q, is: ($titles | unique | join(" | ")), trivial: ($q | trivial_title)} ),
            ( # stars beside a repository
              ( $bare | scan("([0-9][0-9,.]*[kK]?)\\s+stars?\\b") | .[0] | stars_value ) as $st
              | ($f.stars // (if $about == $repo then $s.repo_stars else null end)) as $expected
              | {kind: "stars", ok: ($expected != null and (if $st >= 1000 then ((($st - $expected) | fabs) <= $expected * 0.05) else $st == $expected end)),
                 says: "\($st) stars for \($about)", is: "\($expected)"} ),
            ( # time
              $days[] as $d
              | (if $named[0] != null and $f != null then $f.last_commit_at else $s.last_commit_at end) as $last
              | {kind: "window", ok: ($wd != null and $d <= $wd and fresh($last; $d)), says: "within \($d) days", is: "last commit \($last), window \($wd) days"} )
        ] as $claims
      | ($claims + (if ($s.last_commit_at | type) == "string" and $now != null and (fresh($s.last_commit_at; $wd) | not)
                    then [{kind: "window", ok: false, says: "active in the window", is: "last commit \($s.last_commit_at)"}] else [] end)) as $claims
      | ((.copy.body // "") | split("\n")[0] | (capture("^(?i:hi|hello|hey|dear|good morning|good afternoon)\\s+(?<who>[^,!:]+)")? // {}) | .who // "") as $greeted
      | {
          login: .login,
          lang: ($prose | ascii_downcase | names($lang | ascii_downcase)),
          repo: ($repo != null and ($text | contains($repo))
                 and (($s.repo_language // "") | ascii_downcase) == ($lang | ascii_downcase)),
          other: [languages[] | select(ascii_downcase != ($lang | ascii_downcase)) as $l
                  | select($prose | names($l)) | $l],
          commits: (($s.commits_in_window // $s.commits_90d // 0) >= $min),
          claims: $claims,
          false_claims: [$claims[] | select(.ok | not)],
          trivial_quoted: [$claims[] | select(.kind == "quote" and .trivial) | .says],
          login_greeting: ((.login // "") != "" and (
                            ($greeted | ascii_downcase | gsub("^\\s+|\\s+$"; "")) == (.login | ascii_downcase)
                            or ((.copy.subject // "") | ascii_downcase | endswith(", " + (($lead.login // "") | ascii_downcase) + "?")))),
          role: (.best_email as $b | ([(.email_checks // [])[] | select(.address == $b)
                 | .flags | (.role or .disposable or .noreply)] | any) or ($b != null and ($b | role_shape)))
        } ] as $rows
  | def pct(f): if $n == 0 then "n/a" else "\((($rows | map(select(f)) | length) * 1000 / $n) | round / 10) %" end;
  def count(f): $rows | map(select(f)) | length;
  ([$rows[].claims[]] | group_by(.kind) | map("\(.[0].kind) \(length)") | join(", ")) as $checked
  | ([$rows[] | .login as $l | .false_claims[] | {kind, login: $l, says, is}]) as $false
  | ([$rows[].false_claims[]] | length) as $nfalse
  | ([$rows[].trivial_quoted[]] | length) as $ntrivial
  | (count(.login_greeting)) as $nlogin
  | (count(.role)) as $nrole
  | ($false[:8][] | "false claim: \(.login): \(.kind): copy says \(.says | tojson); record: \(.is)"),
  "leads                                   \($n)",
  "copy names \($lang) and a matching repo   \(pct(.lang and .repo))   (names \($lang): \(pct(.lang)), names the repo: \(pct(.repo)))",
  "copy names another language            \(count(.other | length > 0))   \([$rows[].other[]] | group_by(.) | map("\(.[0]) \(length)") | join(", "))",
  "with >= \($min) commits in the window        \(pct(.commits))",
  "claims checked                         \([$rows[].claims[]] | length)   (\($checked))",
  "false claims                           \($nfalse)   \($false | group_by(.kind) | map("\(.[0].kind) \(length)") | join(", "))",
  "merge/trivial titles quoted            \($ntrivial)",
  "login greetings                        \($nlogin)",
  "role/disposable/no-reply best_email    \($nrole)",
  (if $n > 0 and count((.lang and .repo) | not) == 0 and count(.other | length > 0) == 0
      and $nfalse == 0 and $ntrivial == 0 and $nlogin == 0 and $nrole == 0 then "targets met" else "TARGET MISSED" end)
' "$leads" | tee /dev/stderr | tail -1 | grep -q "targets met"
