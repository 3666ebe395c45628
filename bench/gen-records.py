#!/usr/bin/env python3
"""Writes N GitHub-like person records (~500 bytes each) as NDJSON on stdout, deterministically.

Usage: bench/gen-records.py N [SEED]
"""
import json
import random
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 42)
langs = ["Python", "Go", "Rust", "TypeScript", "Swift", "Java", "C++", "Ruby"]
topics = ["ml", "web", "cli", "devops", "database", "testing", "security", "api", "data", "infra"]
companies = ["@acme", "Initech", None, "Globex Corp", "=HYPERLINK(\"http://x\")", None, "Umbrella, Inc."]
out = sys.stdout
for i in range(n):
    uid = 1000 + i
    login = "user%d" % uid
    rec = {
        "kind": "person",
        "id": uid,
        "login": login,
        "name": rng.choice(["Ada Lovelace", "Grace Hopper", "Linus T", "Émile Zola", "李小龙", None]),
        "company": rng.choice(companies),
        "location": rng.choice(["Berlin", "San Francisco, CA", "Tokyo", None]),
        "bio": rng.choice(["Maintainer of things.", "Hi {{ name }}\nnew line", "", None, "Builds \"fast\" tools"]),
        "blog": "https://%s.example.dev" % login,
        "followers": int(rng.paretovariate(1.2) * 10),
        "public_repos": rng.randint(0, 300),
        "hireable": rng.choice([True, False, None]),
        "from_repos": ["org%d/repo%d" % (rng.randint(1, 500), rng.randint(1, 9999)) for _ in range(rng.randint(1, 3))],
        "signals": {
            "commits_90d": rng.randint(1, 400),
            "last_commit_at": "2026-%02d-%02dT12:00:00Z" % (rng.randint(8, 11), rng.randint(1, 28)),
            "primary_language": rng.choice(langs),
            "topics": rng.sample(topics, rng.randint(0, 3)),
        },
        "emails": [{"address": "%s@%s" % (login, rng.choice(["gmail.com", "acme.io", "initech.com"])),
                    "source": "commit", "evidence": "org/repo@%040x" % rng.getrandbits(160), "last_seen": "2026-10-01"}],
        "stars": rng.randint(0, 50000),
    }
    out.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")
