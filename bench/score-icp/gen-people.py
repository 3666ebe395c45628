#!/usr/bin/env python3
"""Writes N person records shaped like gh-people | gh-enrich | mx-check output (~900 bytes each),
with every field the default ICP reads (signals.repo_stars, last_commit_at, primary_language,
topics; followers), deterministically. A few records lack fields or hold nulls, as real ones do.

Usage: bench/score-icp/gen-people.py N [SEED]
"""
import json
import random
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 42)
langs = ["Python", "Go", "Rust", "TypeScript", "C", "C++", "Java", "Ruby", "Swift", "Shell", None]
topics = ["networking", "devops", "cli", "infra", "database", "observability", "kubernetes", "security",
          "ml", "web", "react", "testing", "api", "data", "game", "Embedded"]
titles = ["Update CI workflow", "Fix race in connection pool", "Bump deps", "Add --json flag", "Refactor parser"]
first = ["rosa", "li", "ada", "omar", "yuki", "sam", "ines", "tariq", "nora", "felix"]
last = ["haddad", "chen", "okafor", "smith", "tanaka", "garcia", "novak", "ali", "berg", "rossi"]
out = sys.stdout
for i in range(n):
    uid = 10_000_000 + i * 7
    f, l = rng.choice(first), rng.choice(last)
    login = "%s-%s%d" % (f, l, i)
    repos = ["%s-oss/%s-%d" % (rng.choice(last), rng.choice(["lens", "mesh", "kit", "db"]), rng.randint(1, 999))
             for _ in range(rng.randint(1, 3))]
    address = "%s.%s@%s" % (f, l, rng.choice(["gmail.com", "icloud.com", "acme.io", "pinetidal.dev"]))
    signals = {
        "commits_90d": rng.randint(1, 400),
        "last_commit_at": "2026-%02d-%02dT%02d:%02d:%02dZ" % (rng.randint(5, 11), rng.randint(1, 28), rng.randint(0, 23),
                                                             rng.randint(0, 59), rng.randint(0, 59)),
        "maintainer_of": repos[: rng.randint(0, len(repos))],
        "recent_commit_titles": rng.sample(titles, rng.randint(1, 3)),
        "primary_language": rng.choice(langs),
        "topics": rng.sample(topics, rng.randint(0, 4)),
        "repo_stars": int(rng.paretovariate(0.8) * 5),
    }
    if rng.random() < 0.03:
        del signals["repo_stars"]
    rec = {
        "kind": "person", "id": uid, "login": login, "from_repos": repos, "signals": signals,
        "emails": [{"address": address, "source": "commit", "evidence": "%s@%040x" % (repos[0], rng.getrandbits(160)),
                    "last_seen": "2026-10-01"}],
        "name": "%s %s" % (f.title(), l.title()),
        "company": rng.choice(["@pinetidal", "Initech", None, "Globex Corp"]),
        "location": rng.choice(["Berlin", "Tokyo", None]),
        "bio": rng.choice([None, "Maintainer of things.", "Builds \"fast\" tools"]),
        "followers": int(rng.paretovariate(1.1) * 3) if rng.random() > 0.02 else None,
        "public_repos": rng.randint(0, 300),
        "email_checks": [{"address": address, "verdict": rng.choice(["safe", "risky"]), "reasons": [],
                          "flags": {"role": False, "disposable": False, "free": True, "noreply": False},
                          "mx": ["mx1.example.net"]}],
        "best_email": address,
    }
    out.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")
