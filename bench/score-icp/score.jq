# The default ICP (examples/icp.yaml) written out as a jq program, with score-icp's math: each
# feature normalised to 0..1, times its weight, rounded half away from zero to 4 decimals (kept as
# integer units of 0.0001); the score is the sum of the units. null counts 0; a feature that fails
# (jq error, wrong type) counts 0 and is named in score_breakdown.errors.
# Run: jq -c --argjson asof <epoch seconds> -f bench/score-icp/score.jq
def units($weight): . * $weight * 10000 | round;
def logcap($cap):
  if type == "number" then ((if . < 0 then 0 else . end | log1p) / ($cap | log1p)) | (if . > 1 then 1 else . end)
  else error("a number expected") end;
def decay($halflife):
  (if type == "number" then . elif type == "string" then fromdate else error("a time expected") end) as $t
  | (($asof - $t) / 86400) as $age
  | if $age <= 0 then 1 else pow(0.5; $age / $halflife) end;
def member($set):
  if type == "string" then (if $set[ascii_downcase] then 1 else 0 end)
  elif type == "array" and all(.[]; type == "string") then (if any(.[]; $set[ascii_downcase]) then 1 else 0 end)
  else error("a string or an array of strings expected") end;
def feature(f; t; $weight): try (f | if . == null then 0 else t end | units($weight)) catch "error";

["stars", "recency", "language", "topic", "followers"] as $names
| [ feature(.signals.repo_stars; logcap(10000); 0.3),
    feature(.signals.last_commit_at; decay(30); 0.25),
    feature(.signals.primary_language;
      member({"go": true, "rust": true, "python": true, "typescript": true, "c": true, "c++": true}); 0.2),
    feature(.signals.topics;
      member({"devops": true, "cli": true, "infra": true, "infrastructure": true, "networking": true, "database": true,
              "observability": true, "kubernetes": true, "security": true}); 0.15),
    feature(.followers; logcap(1000); 0.1) ] as $u
| . + { score: ([$u[] | numbers] | add / 10000),
        score_breakdown: (([range(0; 5) | {($names[.]): ($u[.] | if type == "number" then . / 10000 else 0 end)}] | add)
          + (if any($u[]; . == "error") then {errors: [range(0; 5) | select($u[.] == "error") | $names[.]]} else {} end)) }
