#!/usr/bin/env bash
# Claim throughput of the job queue on SQLite and on PostgreSQL: 4 threads claim 2,000 jobs on each
# backend (TeamQueueTests.testClaimThroughputFigures with CMO_BENCH=1) and the line it prints is shown:
#   claims/s sqlite=… postgres=… (2000 jobs, 4 threads)
# PostgreSQL: CMO_TEST_DATABASE_URL names a server to create a database on; without it, a server is
# started for the run with bin/pg-test-server (and stopped after). Debug build, like the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
if [ -z "${CMO_TEST_DATABASE_URL:-}" ]; then
    pgdir=$(mktemp -d)
    trap 'bin/pg-test-server stop "$pgdir" >/dev/null 2>&1 || true; rm -rf "$pgdir"' EXIT
    CMO_TEST_DATABASE_URL=$(bin/pg-test-server start "$pgdir")
    export CMO_TEST_DATABASE_URL
fi
swift build --build-tests >/dev/null
out=$(CMO_BENCH=1 swift test --skip-build --filter 'AgentTests.TeamQueueTests/testClaimThroughputFigures' 2>&1) || { echo "$out" | tail -30; exit 1; }
echo "$out" | grep -E '^claims/s '
