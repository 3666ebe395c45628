#!/usr/bin/env bash
# mx-check bench (issue 5): 100,000 emails over 10,000 domains against a real DNS server on loopback
# (dnsmasq, Debian package dnsmasq-base, authoritative for a generated zone) behind a relay that adds
# 2 ms to every query (bench/mx-check/latency-shim.c; dnsmasq has no latency option, the sandbox's
# DNS has no per-service latency and only knows its own world's few hundred domains).
#
# Prints, for 25k, 50k and 100k emails (cold cache each time): wall time, peak RSS (GNU time -v),
# queries the server received per record type and per domain; then a warm re-run of 100k through
# the persistent cache. Targets: ≤ 10 s for 100k; one query per domain and record type; flat memory.
#
#   bin/setup && bench/mx-check.sh
#
# Environment: BIN or CMO_BIN (built products, default .build/release), DOMAINS (10000),
# SIZES ("25000 50000 100000"), LATENCY_MS (2), CC (C compiler for the relay: cc, gcc or clang),
# ARGS (more mx-check flags, e.g. "--no-cache" or "--chunk-size 2000").
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${CMO_BIN:-${BIN:-.build/release}}
DOMAINS=${DOMAINS:-10000}
SIZES=${SIZES:-"25000 50000 100000"}
LATENCY_MS=${LATENCY_MS:-2}
die() { echo "bench/mx-check.sh: $*" >&2; exit 1; }
[ -x "$BIN/mx-check" ] || die "no $BIN/mx-check; run bin/setup (or swift build -c release), or set BIN"
DNSMASQ=$(command -v dnsmasq || ls /usr/sbin/dnsmasq 2>/dev/null || true)
[ -n "$DNSMASQ" ] || die "dnsmasq is not installed (Debian package dnsmasq-base; bin/setup --deps-only)"
[ -x /usr/bin/time ] || die "GNU time is not installed (/usr/bin/time; bin/setup --deps-only)"
CC=${CC:-$(command -v cc || command -v gcc || command -v clang || echo /opt/swift/usr/bin/clang)}

WORK=$(mktemp -d /tmp/cmo-bench-mx.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

"$CC" -O2 -o "$WORK/latency-shim" bench/mx-check/latency-shim.c || die "cannot compile the latency relay with $CC"
largest=0
for n in $SIZES; do ((n > largest)) && largest=$n; done
bench/mx-check/gen.sh "$DOMAINS" "$largest" "$WORK/zone.conf" "$WORK/all.ndjson"

free_port() { echo $((20000 + RANDOM % 40000)); }

# dnsmasq: authoritative for test. from the generated zone; no user change, pid file, resolv.conf or hosts.
for _ in 1 2 3 4 5; do
  DNS_PORT=$(free_port)
  "$DNSMASQ" --keep-in-foreground --port="$DNS_PORT" --listen-address=127.0.0.1 --bind-interfaces \
    --no-resolv --no-hosts --no-poll --pid-file= --user= --group= --conf-file="$WORK/zone.conf" \
    --auth-server=ns.test,127.0.0.1 --auth-zone=test --auth-ttl=3600 --auth-soa=1,hostmaster.test,1200,120,1200 \
    --cache-size=0 --log-facility="$WORK/dnsmasq.log" 2>>"$WORK/dnsmasq.err" &
  DNS_PID=$!
  ready=""
  for _ in $(seq 50); do
    kill -0 "$DNS_PID" 2>/dev/null || break
    if echo '{"email":"a@corp00003.test"}' | "$BIN/mx-check" --no-cache -q --dns-server "127.0.0.1:$DNS_PORT" \
      --dns-timeout 0.2 --dns-attempts 1 2>/dev/null | grep -q '"verdict":"safe"'; then ready=1; break; fi
  done
  [ -n "$ready" ] && break
  kill "$DNS_PID" 2>/dev/null || true
done
[ -n "$ready" ] || die "dnsmasq did not start: $(cat "$WORK/dnsmasq.err")"
PIDS+=("$DNS_PID")

# run LABEL EMAILS STATE_DIR: one mx-check run through a fresh relay; prints one table row.
run() {
  local label=$1 n=$2 state=$3 port stats="$WORK/stats.$1" shim
  head -n "$n" "$WORK/all.ndjson" > "$WORK/in.ndjson"
  for _ in 1 2 3 4 5; do
    port=$(free_port)
    rm -f "$stats" "$stats.ready"
    "$WORK/latency-shim" "$port" "$DNS_PORT" "$LATENCY_MS" "$stats" 2>>"$WORK/shim.err" &
    shim=$!
    while kill -0 "$shim" 2>/dev/null && [ ! -e "$stats.ready" ]; do :; done
    [ -e "$stats.ready" ] && break
  done
  [ -e "$stats.ready" ] || die "the latency relay did not start: $(cat "$WORK/shim.err")"
  # shellcheck disable=SC2086  # ARGS is a list of flags
  CMO_STATE_DIR=$state /usr/bin/time -v -o "$WORK/time.$label" "$BIN/mx-check" --log-format json ${ARGS:-} \
    --dns-server "127.0.0.1:$port" < "$WORK/in.ndjson" > "$WORK/out.$label" 2> "$WORK/err.$label" \
    || die "mx-check failed: $(tail -3 "$WORK/err.$label")"
  kill "$shim"
  wait "$shim" || true
  local wall rss cpu out domains mx a aaaa total summary hits
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; printf "%.2f", s }' "$WORK/time.$label")
  rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$WORK/time.$label")
  cpu=$(awk -F': ' '/(User|System) time/ { s += $2 } END { printf "%.2f", s }' "$WORK/time.$label")
  out=$(wc -l < "$WORK/out.$label")
  summary=$(tail -n 1 "$WORK/err.$label")
  domains=$(echo "$summary" | jq '.domains_looked_up')
  hits=$(echo "$summary" | jq '.dns_cache_hits')
  mx=$(awk '$1 == "MX" { print $2 }' "$stats")
  a=$(awk '$1 == "A" { print $2 }' "$stats")
  aaaa=$(awk '$1 == "AAAA" { print $2 }' "$stats")
  total=$(awk '$1 == "total" { print $2 }' "$stats")
  printf '%-12s %7d %7d %7s %7s %6s %9s %6s %6s %5s %8s %8s %9s\n' "$label" "$n" "$out" "$domains" "$wall" "$cpu" "$rss" \
    "$mx" "$a" "$aaaa" "$total" "$(awk -v t="$total" -v d="$domains" 'BEGIN { printf "%.2f", d ? t / d : 0 }')" "$hits"
  echo "$summary" | jq -c '{verdicts, dns_queries_by_type, dns_cache_hits}' > "$WORK/summary.$label"
}

echo "mx-check bench: $DOMAINS domains, $BIN/mx-check, +${LATENCY_MS} ms per DNS query, dnsmasq $("$DNSMASQ" --version | awk 'NR == 1 { print $3 }'), $(nproc) cores"
echo "domain mix: 2% NXDOMAIN, 10% A only (implicit MX), 30% 40 shared provider exchanges, 58% own exchange"
printf '%-12s %7s %7s %7s %7s %6s %9s %6s %6s %5s %8s %8s %9s\n' run emails out domains wall_s cpu_s peak_MiB MX A AAAA queries per_dom cache_hits
for n in $SIZES; do
  rm -rf "$WORK/state"
  run "cold-$n" "$n" "$WORK/state"
done
run "warm-$largest" "$largest" "$WORK/state"
echo "dnsmasq CPU time over all runs: $(ps -o cputime= -p "$DNS_PID" | tr -d ' ') (the cold runs wait mostly on the server)"
echo "verdicts ($largest, cold): $(cat "$WORK/summary.cold-$largest")"
echo "expected per cold run (one query per name and type): MX $DOMAINS (every domain), A $(grep -c '^host-record=' "$WORK/zone.conf") (every A-only domain and distinct exchange), AAAA 0 (every name asked has an A or does not exist)"
