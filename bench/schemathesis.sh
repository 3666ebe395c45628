#!/usr/bin/env bash
# The sandbox's Instantly answers checked against Instantly's own OpenAPI spec by an independent
# property-based tester, schemathesis (issue 28), for every Instantly operation cmo calls.
#
#   bin/setup && bench/schemathesis.sh
#
# 1. A Python venv with schemathesis (pinned) under the cache dir, made once and reused.
# 2. cmo-sandbox on a free loopback port. For each operation: POST /_sandbox/reset, then a small world
#    (two leads added to the seeded campaign, a webhook on it, one day advanced so there are events,
#    deliveries and analytics), then `st run` on that one operation with the ids of that world in its path
#    ({id} of a campaign, lead or webhook), EXAMPLES test cases a phase, valid and invalid input. Checks:
#    no 5xx, every status documented for the operation, the response's body matches the documented schema,
#    the documented content type.
# 3. One line per operation: pass, fail (the failing checks, the status received and a request that showed
#    it), or known (a difference listed in KNOWN below, with its reason); then "N of M operations pass".
#
# Exit 0 when it ran, whatever the count; 69 when it could not run (no cmo-sandbox, no spec, pip failed).
# Environment: BIN (built products, default .build/release), SPEC (the spec, default
# ../shared/reference/specs/instantly-api_v2.openapi.json), EXAMPLES (test cases per phase, default 25),
# SEED (schemathesis seed, default 28), VENV (default ${XDG_CACHE_HOME:-~/.cache}/cmo/schemathesis-venv),
# KEEP (a directory to keep the reports in: KEEP/<operationId>.ndjson).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-$(pwd)/.build/release}
[ -x "$BIN/cmo-sandbox" ] || { echo "bench: run bin/setup first (no cmo-sandbox in $BIN)" >&2; exit 69; }
SPEC=${SPEC:-$(cd .. && pwd)/shared/reference/specs/instantly-api_v2.openapi.json}
[ -f "$SPEC" ] || { echo "bench: no Instantly spec at $SPEC (set SPEC=…)" >&2; exit 69; }
EXAMPLES=${EXAMPLES:-25}
SEED=${SEED:-28}
ST_VERSION=4.32.5
VENV=${VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/cmo/schemathesis-venv}
WORK=${KEEP:-$(mktemp -d /tmp/cmo-bench-schemathesis.XXXXXX)}
mkdir -p "$WORK"
SANDBOX=$BIN/cmo-sandbox SANDBOX_PID=""
trap '[ -n "$SANDBOX_PID" ] && kill "$SANDBOX_PID" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
. bench/lib.sh # start_sandbox

# The operations cmo calls (Sources/Clients/CMOServices, Sources/Stages/cmo-hooks) and three the sandbox serves
# beside them, by the spec's
# operationId: "operationId METHOD path".
OPERATIONS=(
  "getCampaign GET /api/v2/campaigns/{id}"                       # send-instantly, campaign check
  "listCampaign GET /api/v2/campaigns"                           # campaign lookup by name
  "listAccount GET /api/v2/accounts"                             # sending accounts
  "bulkAddLeads POST /api/v2/leads/add"                          # send-instantly
  "listLeads POST /api/v2/leads/list"                            # send-instantly, state recovery
  "getLead GET /api/v2/leads/{id}"                               # not called by cmo today (served by the sandbox)
  "updateLeadInterestStatus POST /api/v2/leads/update-interest-status" # cmo-hooks apply
  "createWebhook POST /api/v2/webhooks"                          # cmo-hooks register
  "listWebhook GET /api/v2/webhooks"                             # cmo-hooks register
  "getWebhook GET /api/v2/webhooks/{id}"                         # not called by cmo today (served by the sandbox)
  "patchWebhook PATCH /api/v2/webhooks/{id}"                     # cmo-hooks register (secret header)
  "resumeWebhook POST /api/v2/webhooks/{id}/resume"              # cmo-hooks register
  "listWebhookEvent GET /api/v2/webhook-events"                  # cmo-hooks catch-up
  "getCampaignAnalytics GET /api/v2/campaigns/analytics"         # not called by cmo today (served by the sandbox)
  "createBlockListEntry POST /api/v2/block-lists-entries"        # cmo-hooks apply (unsubscribe)
  "listBlockListEntry GET /api/v2/block-lists-entries"           # cmo-hooks apply (dedupe)
)

# Differences from the spec that are the vendor's, not the sandbox's (each an undocumented 400):
# operationId → the reason. Such an operation counts as "known" only when every failure is a 400 for input
# the spec's own schema refuses (schemathesis's negative cases), or, for schema-valid input, a 400 whose
# message matches the regular expression KNOWN_VALID (a refusal documented in prose: the spec's, apis.md's,
# or the sandbox's own [U] where the vendor's answer is unknown). Anything else is a failure.
declare -A KNOWN=(
  [listCampaign]="Instantly validates the query (Fastify) and answers 400 to a limit outside 1–100 or a status outside the enum; the spec lists no 400 here"
  [listAccount]="Instantly validates the query (Fastify) and answers 400 to a limit outside 1–100 or a status outside the enum; the spec lists no 400 here"
  [bulkAddLeads]="a body naming neither or both of campaign_id and list_id (the spec's prose: one, not both), with an unknown top-level key, or breaking the body schema is refused with 400 (apis.md §2.10); the spec lists no 400 here"
  [listWebhook]="Instantly validates the query (Fastify) and answers 400 to a limit outside 1–100 or an event_type outside the enum; the spec lists no 400 here"
  [patchWebhook]="a body that is missing (Fastify validates it as null: 'body must be object'; the schema's minProperties: 1 wants one anyway), not an object, with a forbidden key, or with a header that cannot go on the wire (empty, non-token name; CR/LF/NUL in a value: refused, not delivered, by the sandbox [U]) is refused with 400, as POST /webhooks documents; the spec lists no 400 for PATCH"
  [listWebhookEvent]="Instantly validates the query (Fastify) and answers 400 to a limit outside 1–100 or a from/to that is not a date; the spec lists no 400 here"
  [listBlockListEntry]="Instantly validates the query (Fastify) and answers 400 to a limit outside 1–100; the spec lists no 400 here"
)
declare -A KNOWN_VALID=(
  [bulkAddLeads]="campaign_id or list_id|body must NOT have additional properties"
  [patchWebhook]="body must be object|is not a valid HTTP header"
)

echo "== schemathesis $ST_VERSION (venv $VENV)"
if [ ! -x "$VENV/bin/st" ] || [ "$("$VENV/bin/st" --version 2>/dev/null | awk '{print $NF}')" != "$ST_VERSION" ]; then
  { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$ST_VERSION"; } >"$WORK/pip.log" 2>&1 || {
    echo "bench: could not install schemathesis==$ST_VERSION with pip (is PyPI reachable?): $(tail -3 "$WORK/pip.log")" >&2
    exit 69
  }
fi

# The rate limit is not what is checked here (429 is documented anyway): raised so that every case is served.
start_sandbox "$WORK/env" --seed 28 --instantly-requests-per-second 1000000 --instantly-requests-per-minute 100000000 \
  --instantly-webhook-backoff 0.05 --instantly-webhook-attempts 1
export INSTANTLY_API_URL INSTANTLY_API_KEY
AUTH="Authorization: Bearer $INSTANTLY_API_KEY"
api() { curl -sf -H "$AUTH" -H 'content-type: application/json' -X "$1" "$INSTANTLY_API_URL$2" ${3:+-d "$3"}; }

# world: reset, then two leads, a webhook (to a closed port: its deliveries fail and are stored) and a day.
# Exports ST_CAMPAIGN, ST_LEAD, ST_WEBHOOK for the config's path parameters.
world() {
  curl -sf -X POST "$CMO_SANDBOX_URL/_sandbox/reset" >/dev/null
  export ST_CAMPAIGN=$CMO_SANDBOX_INSTANTLY_CAMPAIGN
  ST_LEAD=$(api POST /api/v2/leads/add "{\"campaign_id\":\"$ST_CAMPAIGN\",\"leads\":[
    {\"email\":\"ada@example.org\",\"first_name\":\"Ada\"},{\"email\":\"grace@example.org\",\"first_name\":\"Grace\"}]}" |
    jq -r '.created_leads[0].id')
  ST_WEBHOOK=$(api POST /api/v2/webhooks \
    "{\"target_hook_url\":\"http://127.0.0.1:9/hook\",\"event_type\":\"all_events\",\"campaign\":\"$ST_CAMPAIGN\"}" | jq -r .id)
  export ST_LEAD ST_WEBHOOK
  curl -sf -X POST "$CMO_SANDBOX_URL/_sandbox/instantly/advance" -d '{"days":1}' >/dev/null
}

cat >"$WORK/schemathesis.toml" <<'EOF'
[[operations]]
include-operation-id = "getCampaign"
parameters = { "path.id" = "${ST_CAMPAIGN}" }
[[operations]]
include-operation-id = "bulkAddLeads"
parameters = { "body.campaign_id" = "${ST_CAMPAIGN}" }
[[operations]]
include-operation-id = "getLead"
parameters = { "path.id" = "${ST_LEAD}" }
[[operations]]
include-operation-id = "getWebhook"
parameters = { "path.id" = "${ST_WEBHOOK}" }
[[operations]]
include-operation-id = "patchWebhook"
parameters = { "path.id" = "${ST_WEBHOOK}" }
[[operations]]
include-operation-id = "resumeWebhook"
parameters = { "path.id" = "${ST_WEBHOOK}" }
EOF

# summarise REPORT KNOWN_REASON KNOWN_VALID: "pass", "known: …" or "fail: …" from a schemathesis NDJSON report.
summarise() {
  python3 - "$1" "$2" "$3" <<'EOF'
import base64, json, re, sys
report, reason, valid = sys.argv[1], sys.argv[2], sys.argv[3]
failures, errors = {}, []
for line in open(report):
    event = json.loads(line)
    if "NonFatalError" in event or "FatalError" in event:
        e = event.get("NonFatalError") or event.get("FatalError")
        errors.append(str(e.get("value", e))[:160])
    if "ScenarioFinished" not in event:
        continue
    rec = event["ScenarioFinished"]["recorder"]
    for case_id, checks in rec["checks"].items():
        for check in checks:
            if check["status"] == "success":
                continue
            case = rec["cases"].get(case_id, {}).get("value", {})
            mode = case.get("meta", {}).get("generation", {}).get("mode", "?")
            response = (rec["interactions"].get(case_id) or {}).get("response") or {}
            failure = (check.get("failure_info") or {}).get("failure", {})
            content = response.get("content") or {}
            body = base64.b64decode(content["$base64"]).decode(errors="replace") if "$base64" in content else str(content)
            # A schema-valid case refused with a 400 the vendor documents in prose.
            if mode == "positive" and response.get("status_code") == 400 and valid and re.search(valid, body):
                mode = "documented-refusal"
            key = (check["name"], failure.get("title", ""), response.get("status_code"), mode)
            request = f'{case.get("method")} {case.get("path")} {json.dumps(case.get("query") or case.get("body") or "")[:120]}'
            failures.setdefault(key, (request, failure.get("message", "").replace("\n", " ")[:160]))
if errors:
    print("fail: schemathesis error: " + errors[0]); sys.exit()
if not failures:
    print("pass"); sys.exit()
def undocumented_400(key): return key[1] == "Undocumented status code" and key[2] == 400
if reason and all(undocumented_400(k) and k[3] in ("negative", "documented-refusal") for k in failures):
    print("known: an undocumented 400 (" + reason + ")"); sys.exit()
parts = []
for (name, title, status, mode), (request, message) in sorted(failures.items(), key=str):
    parts.append(f"{title or name} [{status}, {mode} input] e.g. {request}: {message}")
print("fail: " + " | ".join(parts))
EOF
}

echo "== ${#OPERATIONS[@]} operations, $EXAMPLES cases a phase, seed $SEED, spec $SPEC"
passed=0 known=0 failed=0 known_names=()
for op in "${OPERATIONS[@]}"; do
  read -r id method path <<<"$op"
  world
  "$VENV/bin/st" --config-file "$WORK/schemathesis.toml" --no-color run "$SPEC" --url "$INSTANTLY_API_URL" -H "$AUTH" \
    --include-operation-id "$id" --max-examples "$EXAMPLES" --seed "$SEED" --workers 1 --continue-on-failure \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --phases examples,coverage,fuzzing --warnings off \
    --report ndjson --report-ndjson-path "$WORK/$id.ndjson" >"$WORK/$id.log" 2>&1 || true
  if [ ! -s "$WORK/$id.ndjson" ]; then
    verdict="fail: schemathesis did not run: $(tail -2 "$WORK/$id.log" | tr '\n' ' ')"
  else
    verdict=$(summarise "$WORK/$id.ndjson" "${KNOWN[$id]:-}" "${KNOWN_VALID[$id]:-}")
  fi
  case $verdict in
    pass) passed=$((passed + 1)) ;;
    known*) known=$((known + 1)); known_names+=("$method $path") ;;
    *) failed=$((failed + 1)) ;;
  esac
  printf '%-5s %-45s %s\n' "$method" "$path" "$verdict"
done
total=${#OPERATIONS[@]}
line="$passed of $total operations pass"
[ "$known" -gt 0 ] && line+="; $known $([ "$known" = 1 ] && echo is a 400 || echo are 400s) the spec does not document: $(IFS=,; echo "${known_names[*]}" | sed 's/,/, /g')"
[ "$failed" -gt 0 ] && line+="; $failed fail"
echo "$line"
