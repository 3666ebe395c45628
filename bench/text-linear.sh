#!/usr/bin/env bash
# Text work is linear (issue 27): every stage that normalises or hashes user text, run on inputs of
# 10 KB, 100 KB and 1 MB of the shapes that make text code superlinear — one long token (plain,
# hex, scheme-like, an email's local part, an unclosed quote of digits), many short tokens, deep
# nesting (brackets, quotes, template braces), many distinct values (10,000 different errors at
# 1 MB) — with the time per size and the growth per 10x of input.
#
#   bench/text-linear.sh [CASE-FILTER]        # e.g. bench/text-linear.sh sync-linear
#
# A linear stage grows about 10x per 10x of input (less at 10 KB, where process start dominates);
# the bench fails (exit 1) when any case grows more than 30x per 10x, or a run passes TIMEOUT.
# Environment: BIN (built products, default .build/release; BIN=dir of older binaries gives the
# "before" column), SIZES (default "10000 100000 1000000"), TIMEOUT (s per run, default 60).
#
# Places covered (stage: code): sync-linear: LinearErrorRecord.normalise (the error key), the SHA-256
# of the line, LeadFields.oneLine on stage and code; send-instantly --dry-run: LeadFields.oneLine /
# multiLine / breakTemplateSyntax on name, company and copy, TextCleaning.body; render-copy: the
# first_name (GreetingName), one_line and truncate filters, TextCleaning.insertable on inserted
# values, template rendering of user text; score-icp: jq mappings and membership matching of
# languages and topics; export-csv: CSVCellFormatter (neutralising, quoting, cutting cells) and
# the union of keys; cmo-suppress check: SuppressionValue / EmailAddress / domain parents of
# best_email; cmo-plan parse: the goal's words (GoalParser; argv caps one word at 128 KB, so its
# long token stops at 100 KB; a goal over 1,000 words is refused, exit 64, before ArgumentParser or
# GoalParser reads it, so "many short tokens" times the refusal: GoalParser itself is unit-tested on
# 512 KB goals in Tests/AgentTests/GoalParserLinearityTests.swift). Not run here (they need the sandbox's services to feed them text),
# but unit-tested at 1 MB in Tests/CMOCoreTests/TextLinearityTests.swift: gh-people's commit-title
# filter (CommitTitle), sync-attio's and the Linear issue text (LinearText), WhyNowWriter.clean.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-$(pwd)/.build/release}
for s in sync-linear send-instantly render-copy score-icp export-csv cmo-suppress cmo-plan; do
  [ -x "$BIN/$s" ] || { echo "bench: no $BIN/$s (swift build -c release, or set BIN)" >&2; exit 69; }
done
WORK=$(mktemp -d /tmp/cmo-bench-text.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
exec python3 - "$BIN" "$WORK" "${1:-}" "${SIZES:-10000 100000 1000000}" "${TIMEOUT:-60}" <<'EOF'
import json, os, subprocess, sys, time

BIN, WORK, FILTER, SIZES, TIMEOUT = sys.argv[1], sys.argv[2], sys.argv[3], [int(s) for s in sys.argv[4].split()], float(sys.argv[5])
ENV = {"PATH": "/usr/bin:/bin", "HOME": WORK, "CMO_LOG_FORMAT": "json"}

def letters(i):  # a distinct word of letters only, so no rule normalises the difference away
    s = ""
    while True:
        s = chr(97 + i % 26) + s
        i //= 26
        if i == 0: return s

# Shapes of one text value of about n bytes.
SHAPES = {
    "long token": lambda n: "a" * n,
    "long hex token": lambda n: "ab12" * (n // 4),
    "long scheme-like token": lambda n: "a" * (n - 2) + ":/",
    "long email local part": lambda n: "a" * (n - 4) + "@b.c",
    "unclosed quote of digits": lambda n: "'" + "1" * (n - 1),
    "many short tokens": lambda n: "ab 1 x@y.co " * (n // 12),
    "deep brackets": lambda n: "([{<" * (n // 8) + ">}])" * (n // 8),
    "deep quotes": lambda n: "'\"`" * (n // 3),
    "deep template braces": lambda n: "{{" * (n // 4) + "}}" * (n // 4),
    "template tags": lambda n: "{% if x %}{{ y }}" * (n // 17),
    "combining marks": lambda n: "a" + "\u0301" * (n // 2),
}

def lines(records): return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)

# Each case: (stage, shape, make(n) -> (stdin text, argv tail), command).
def one(f): return lambda shape: lambda n: lines([f(SHAPES[shape](n))])

def dead_letter(msg): return {"stage": "gh-people", "line": 1, "error": {"code": "bad_thing", "message": msg}, "input": {"bio": msg[:200]}}
def lead(text):
    return {"id": 1, "login": "octo", "name": text, "company": text, "bio": text, "best_email": {"address": "ada@example.org", "verdict": "safe"},
            "copy": {"subject": text, "body": "Hi,\n" + text + "\nunsubscribe: https://example.org/u"},
            "signals": {"repo": text, "repo_commit_title": text, "repo_language": text, "window_days": 90,
                        "matched": {"languages": [text], "topics": [text]}}, "snippets": {"why_now": text}}

# The example campaign, allowed to render (it refuses to while it says example: true).
CAMPAIGN = os.path.join(WORK, "campaign.yaml")
with open("examples/campaign.yaml") as f: text = f.read()
with open(CAMPAIGN, "w") as f: f.write(text.replace("example: true", "example: false").replace("[templates]", "[" + os.path.abspath("examples/templates") + "]"))

SYNC_LINEAR = ["sync-linear", "--team", "ENG", "--job", "bench-text", "--dry-run", "-q"]
CASES = []
for shape in SHAPES:
    CASES.append(("sync-linear", shape, one(dead_letter)(shape), SYNC_LINEAR))
CASES.append(("sync-linear", "many distinct errors", lambda n: lines(
    dead_letter(f"request {letters(i)} failed for {letters(i * 7 + 3)}") | {"line": i + 1} for i in range(n // 100)), SYNC_LINEAR))
CASES.append(("sync-linear", "many errors, one key", lambda n: lines(
    dead_letter(f"request {i} failed for dev{i}@example.org") | {"line": i + 1} for i in range(n // 100)), SYNC_LINEAR))
for shape in ["long token", "many short tokens", "deep template braces", "deep brackets", "combining marks"]:
    CASES.append(("send-instantly", shape, one(lead)(shape), ["send-instantly", "--dry-run", "-q", "--max-body-chars", "100000000", "--field", "company_name=.company"]))
    CASES.append(("render-copy", shape, one(lead)(shape),
                  ["render-copy", "-q", "--config", CAMPAIGN, "--template", "examples/templates"]))
    CASES.append(("score-icp", shape, one(lead)(shape), ["score-icp", "-q", "--icp", "examples/icp.yaml", "--as-of", "2026-12-01T00:00:00Z"]))
    CASES.append(("export-csv", shape, one(lambda t: {"a": "=" + t, "b": t + '","', "c": [t, t]})(shape), ["export-csv", "-q", "--max-cell-chars", "0"]))
CASES.append(("export-csv", "many distinct keys", lambda n: lines([{letters(i): "=x" for i in range(n // 12)}]), ["export-csv", "-q"]))
CASES.append(("send-instantly", "many leads", lambda n: lines(lead(letters(i)) | {"best_email": {"address": f"{letters(i)}@example.org", "verdict": "safe"}} for i in range(n // 600)),
              ["send-instantly", "--dry-run", "-q"]))
for shape, email in [("long local part", lambda n: "a" * n + "@example.org"), ("many domain labels", lambda n: "a@" + "a." * (n // 2) + "org"),
                     ("long domain label", lambda n: "a@" + "a" * n + ".org"), ("many addresses", None)]:
    make = (lambda e: lambda n: lines([{"id": 1, "best_email": e(n), "login": e(n)}]))(email) if email else \
        (lambda n: lines({"id": i, "best_email": f"{letters(i)}@{letters(i)}.example.org", "login": letters(i)} for i in range(n // 50)))
    CASES.append(("cmo-suppress check", shape, make, ["cmo-suppress", "check", "-q"]))
# The goal is argv: one word is at most 128 KB and all of them about 2 MB with their pointers, so the
# 1 MB size is skipped here.
GOAL = "find 200 rust maintainers active in the last 30 days and export a csv "
for shape, words in [("long token", lambda n: [GOAL, "a" * n]), ("many short tokens", lambda n: [GOAL] + ["rust"] * (n // 5)),
                     ("deep quotes", lambda n: [GOAL, "'\"" * (n // 2)])]:
    CASES.append(("cmo-plan parse", shape, (lambda w: lambda n: ("", w(n)) if n <= 120_000 else None)(words), ["cmo-plan", "parse"]))

def run(argv, stdin_text, n, tag):
    state = os.path.join(WORK, f"state-{tag}")
    os.makedirs(state, exist_ok=True)
    env = ENV | {"CMO_STATE_DIR": state}
    path = os.path.join(WORK, "in.ndjson")
    with open(path, "w") as f: f.write(stdin_text)
    best = None
    for _ in range(1 if n >= 1_000_000 else 2):
        with open(path) as f:
            start = time.monotonic()
            try:
                p = subprocess.run([os.path.join(BIN, argv[0])] + argv[1:], stdin=f, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   env=env, timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                return None, "timeout"
            t = time.monotonic() - start
        best = t if best is None else min(best, t)
    return best, p.returncode

# cmo-suppress check needs a list to check against.
subprocess.run([os.path.join(BIN, "cmo-suppress"), "add", "-q", "blocked.example.org", "@octo", "ada@example.org"],
               env=ENV | {"CMO_STATE_DIR": os.path.join(WORK, "state-cmo-suppress check")}, check=True, stdout=subprocess.DEVNULL)

failed = []
print(f"{'stage':<20} {'shape':<26} " + " ".join(f"{n:>10,}B" for n in SIZES) + "   growth per 10x")
for stage, shape, make, argv in CASES:
    if FILTER and FILTER not in stage and FILTER not in shape: continue
    times, notes = [], []
    for n in SIZES:
        made = make(n)
        if made is None: notes.append(f"{n} skipped"); break
        stdin_text, args = (made if isinstance(made, tuple) else (made, []))
        t, status = run(argv + args, stdin_text, n, stage)
        times.append(t)
        if status not in (0, "timeout"): notes.append(f"exit {status} at {n}")
        if t is None: notes.append(f"over {TIMEOUT:.0f} s at {n}"); break
    growth = []
    for (a, na), (b, nb) in zip(zip(times, SIZES), zip(times[1:], SIZES[1:])):
        if a is None or b is None: growth.append(float("inf")); continue
        growth.append((b / max(a, 1e-3)) ** (1 / max(1e-9, __import__("math").log10(nb / na))))
    bad = any(g > 30 for g in growth) or any(t is None for t in times)
    if bad: failed.append(f"{stage} / {shape}")
    cells = " ".join(f"{t:>10.3f}s" if t is not None else f"{'—':>11}" for t in times)
    cells += " " * (12 * (len(SIZES) - len(times)))
    print(f"{stage:<20} {shape:<26} {cells}   " + " ".join(f"{g:.1f}x" for g in growth)
          + ("  SUPERLINEAR" if bad else "") + (f"  ({'; '.join(notes)})" if notes else ""), flush=True)
if failed:
    print(f"superlinear (over 30x per 10x of input, or over {TIMEOUT:.0f} s): " + ", ".join(failed))
    sys.exit(1)
print("every case grows at most 30x per 10x of input")
EOF
