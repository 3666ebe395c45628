#!/usr/bin/env bash
# Writes the bench's world: a dnsmasq zone of DOMAINS domains under `test.` and EMAILS person records
# (one provenance email each, spread evenly over the domains), deterministic.
#
#   bench/mx-check/gen.sh DOMAINS EMAILS ZONE_FILE RECORDS_FILE
#
# Domain mix (by index): 2% NXDOMAIN (not in the zone), 10% A only (implicit MX), 30% MX at one of
# 40 shared provider exchanges, the rest MX at their own exchange; 1% of addresses are role accounts.
set -euo pipefail
domains=$1 emails=$2 zone=$3 records=$4
awk -v n="$domains" 'BEGIN {
  for (p = 0; p < 40; p++) printf "host-record=mx%d.provider.test,198.51.100.%d\n", p, p + 1
  for (i = 0; i < n; i++) {
    d = sprintf("corp%05d.test", i)
    if (i % 50 == 0) continue
    k = i % 10
    if (k == 1) printf "host-record=%s,192.0.2.%d\n", d, i % 250 + 1
    else if (k >= 2 && k <= 4) printf "mx-host=%s,mx%d.provider.test,10\n", d, int(i / 10) % 40
    else printf "mx-host=%s,mx.%s,10\nhost-record=mx.%s,203.0.113.%d\n", d, d, d, i % 250 + 1
  }
}' > "$zone"
awk -v n="$domains" -v m="$emails" 'BEGIN {
  for (j = 0; j < m; j++) {
    d = sprintf("corp%05d.test", j % n)
    local = (j % 100 == 7) ? "info" : sprintf("dev%d", j)
    printf "{\"kind\":\"person\",\"id\":%d,\"login\":\"dev%d\",\"emails\":[{\"address\":\"%s@%s\",\"source\":\"commit\",\"evidence\":\"org/repo@%07x\",\"last_seen\":\"2026-10-%02dT12:00:00Z\"}]}\n", j, j, local, d, j, j % 28 + 1
  }
}' > "$records"
