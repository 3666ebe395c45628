#!/usr/bin/env python3
"""Scores gh-people/gh-enrich output against the sandbox's ground truth.

usage: score.py TRUTH.json REPOS.ndjson PEOPLE.ndjson SINCE_ISO
Prints one JSON object: recall of linked human committers active in the window (over the repositories
that were searched), bots found, noreply addresses offered, emails without provenance, people with a
usable email.
"""
import json, sys

truth = json.load(open(sys.argv[1]))
repos = {json.loads(l)["full_name"].lower() for l in open(sys.argv[2]) if l.strip()}
people = [json.loads(l) for l in open(sys.argv[3]) if l.strip()]
since = sys.argv[4]

logins = {}
bots = set()
for c in truth["contributions"]:
    login = c.get("login")
    if not login:
        continue
    if login.endswith("[bot]") or login == "web-flow":
        bots.add(login.lower())
        continue
    if c["repo"].lower() in repos and c["last_commit_at"] >= since:
        logins[login.lower()] = True

renamed = {r["previous_login"].lower(): r["login"].lower() for r in truth.get("renamed_users", [])}
found = {p["login"].lower() for p in people}
expected = set(logins)
hit = len(expected & found)
noreply = 0
no_provenance = 0
usable = 0
for p in people:
    ok = False
    for e in p.get("emails", []):
        a = e.get("address", "").lower()
        if a.endswith("noreply.github.com") or a == "noreply@github.com":
            noreply += 1
        elif e.get("source") and e.get("evidence"):
            ok = True
        if not (e.get("source") and e.get("evidence")):
            no_provenance += 1
    usable += ok
print(json.dumps({
    "expected": len(expected), "found": len(found), "recalled": hit,
    "recall": round(hit / len(expected), 4) if expected else 1.0,
    "missed_sample": sorted(expected - found)[:5],
    "bots": len(found & bots) + sum(1 for p in people if p["login"].lower().endswith("[bot]")),
    "noreply_offered": noreply, "emails_without_provenance": no_provenance,
    "people_with_usable_email": usable,
}))
