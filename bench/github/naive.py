#!/usr/bin/env python3
"""The naive per-person baseline of issue 4, on the same world and the same repositories:

for each repository, GET /repos/{o}/{r}/contributors (pages of 100), keep the top N human
contributors; for each person, GET /users/{login}; for each (person, repository), GET
/repos/{o}/{r}/commits?author=LOGIN&since=… to find their commit emails.

usage: naive.py REPOS.ndjson SINCE_ISO TOP_N THREADS
env:   GITHUB_API_URL, GITHUB_TOKEN
Prints one JSON object: calls made, people, people with a usable (non-noreply) email.
"""
import json, os, sys, threading, urllib.request, urllib.parse
from concurrent.futures import ThreadPoolExecutor

base = os.environ["GITHUB_API_URL"].rstrip("/")
token = os.environ["GITHUB_TOKEN"]
repos = [json.loads(l)["full_name"] for l in open(sys.argv[1]) if l.strip()]
since, top, threads = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
calls = 0
errors = 0
lock = threading.Lock()


def get(url):
    global calls
    with lock:
        calls += 1
    req = urllib.request.Request(url, headers={
        "Authorization": "Bearer " + token, "User-Agent": "cmo-bench-naive", "Accept": "application/vnd.github+json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            link = r.headers.get("link") or ""
            body = r.read()
            return json.loads(body) if body else None, link
    except urllib.error.HTTPError as e:
        global errors
        with lock:
            errors += 1
        return None, ""


def next_link(link):
    for part in link.split(","):
        if 'rel="next"' in part:
            return part.split(";")[0].strip()[1:-1]
    return None


def contributors(full):
    url, out = f"{base}/repos/{full}/contributors?per_page=100", []
    while url:
        body, link = get(url)
        out += [c for c in (body or []) if isinstance(c, dict) and c.get("type") == "User"]
        url = next_link(link)
    return full, [c["login"] for c in out[:top]]


def usable(a):
    a = (a or "").lower()
    return "@" in a and not a.endswith("noreply.github.com") and a != "noreply@github.com" and "[bot]" not in a


with ThreadPoolExecutor(threads) as pool:
    per_repo = list(pool.map(contributors, repos))
    people = {}
    for full, logins in per_repo:
        for l in logins:
            people.setdefault(l, []).append(full)
    profiles = dict(zip(people, pool.map(lambda l: get(f"{base}/users/{urllib.parse.quote(l)}")[0], people)))
    pairs = [(l, r) for l, rs in people.items() for r in rs]
    q = urllib.parse.quote(since)
    commits = pool.map(lambda p: (p[0], get(f"{base}/repos/{p[1]}/commits?author={urllib.parse.quote(p[0])}&since={q}&per_page=100")[0]), pairs)
    emails = {}
    for login, body in commits:
        for c in body or []:
            a = (((c or {}).get("commit") or {}).get("author") or {}).get("email")
            if usable(a):
                emails.setdefault(login, set()).add(a)
    for login, p in profiles.items():
        if p and usable(p.get("email")):
            emails.setdefault(login, set()).add(p["email"])
print(json.dumps({"calls": calls, "errors": errors, "people": len(people), "people_with_usable_email": len(emails)}))
