# Helpers shared by the bench scripts (sourced, not run).

# best CMD: the best of 3 wall-clock times (seconds) of a shell command, output discarded.
best() {
  local b=
  for _ in 1 2 3; do
    local s e t
    s=$(date +%s.%N); bash -c "$1" >/dev/null; e=$(date +%s.%N)
    t=$(python3 -c "print(round($e - $s, 3))")
    if [ -z "$b" ] || python3 -c "import sys; sys.exit(0 if $t < $b else 1)"; then b=$t; fi
  done
  echo "$b"
}

# ratio A B: A / B to two places.
ratio() { python3 -c "print(round($1 / $2, 2))"; }

# rss_of INPUT CMD...: peak resident set (KiB) of CMD reading INPUT.
rss_of() { local input=$1; shift; /usr/bin/time -f %M "$@" 2>&1 >/dev/null < "$input" | tail -1; }

# start_sandbox ENV_FILE [flags…]: $SANDBOX (cmo-sandbox) on a free loopback port with the flags;
# waits for its env file and sources it (GITHUB_API_URL, tokens, CMO_DNS_SERVER, …). Its stderr goes
# to ENV_FILE.log; SANDBOX_PID is set for stop_sandbox (and the caller's EXIT trap).
start_sandbox() {
  local env=$1; shift
  rm -f "$env"
  "$SANDBOX" --port 0 --env-file "$env" "$@" >/dev/null 2>"$env.log" &
  SANDBOX_PID=$!
  for _ in $(seq 600); do [ -s "$env" ] && break; sleep 0.1; done
  [ -s "$env" ] || { echo "bench: cmo-sandbox did not start: $(cat "$env.log")" >&2; return 69; }
  # shellcheck disable=SC1090
  . "$env"
}
stop_sandbox() { kill "$SANDBOX_PID"; wait "$SANDBOX_PID" 2>/dev/null || true; SANDBOX_PID=""; }

# sandbox_requests PREFIX: requests the running sandbox counted for endpoints starting with PREFIX
# ("github ", "dns MX").
sandbox_requests() {
  curl -s "$CMO_SANDBOX_URL/_sandbox/stats" | jq --arg p "$1" '[.requests | to_entries[] | select(.key | startswith($p)) | .value] | add // 0'
}
