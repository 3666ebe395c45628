#!/usr/bin/env bash
# Builds the libFuzzer harness for cmo's input parsers and runs it.
#   fuzz/run.sh [SECONDS]     (default 60; extra libFuzzer flags via FUZZ_FLAGS, jobs via FUZZ_JOBS)
# The build goes to .build-fuzz/ (git-ignored); new corpus entries to .build-fuzz/corpus/ (the
# committed seeds in fuzz/corpus/ are only read); crashes to fuzz/crashes/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
seconds="${1:-60}"
out="$root/.build-fuzz"
swiftc="${SWIFTC:-$(command -v swiftc || echo /opt/swift/usr/bin/swiftc)}"
basics="$root/Sources/Infrastructure/CMOBasics"

# The self-contained basics files (no GRDB, Yams, CJQ or CCurl imports), compiled as one module with
# the harness. ExitStatus.swift gives NDJSONReader its StageFailure; OutputStream.swift gives
# DeadLetterSink its sysWrite; IOFailure.swift the errors OutputStream throws.
sources=(
  "$basics/JSON/JSONScanner.swift"
  "$basics/JSON/JSONValue.swift"
  "$basics/Records/Record.swift"
  "$basics/IO/NDJSONReader.swift"
  "$basics/CSV/CSVCell.swift"
  "$basics/Process/ExitStatus.swift"
  "$basics/IO/DeadLetterSink.swift"
  "$basics/IO/OutputStream.swift"
  "$basics/IO/IOFailure.swift"
  "$here/Harness.swift"
)
mkdir -p "$out/corpus" "$here/crashes"
bin="$out/cmo-fuzz"
newest_src=$(ls -t "${sources[@]}" | head -1)
if [[ ! -x "$bin" || "$newest_src" -nt "$bin" || "$0" -nt "$bin" ]]; then
  echo "building $bin" >&2
  rm -f "$bin"
  "$swiftc" -parse-as-library -swift-version 6 -O -g \
    -sanitize=fuzzer,address -module-name CMOFuzz \
    "${sources[@]}" -o "$bin" 2>&1 | grep -v "Cannot export local symbol" >&2 || true
  [[ -x "$bin" ]] || { echo "build failed" >&2; exit 2; }
fi

echo "fuzzing for ${seconds}s (seeds: fuzz/corpus, working corpus: .build-fuzz/corpus)" >&2
set +e
# Swift's own crash handler would fight ASan's; let ASan report.
SWIFT_BACKTRACE=enable=no "$bin" -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=3072 \
  -dict="$here/json.dict" -print_final_stats=1 \
  -artifact_prefix="$here/crashes/" ${FUZZ_FLAGS:-} \
  "$out/corpus" "$here/corpus" 2>"$out/last-run.log"
status=$?
set -e
grep -E '^(#[0-9]+[[:space:]]+(INITED|DONE)|stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added|.*PROPERTY VIOLATED|==[0-9]+==ERROR|.*Fatal error|artifact_prefix|Test unit written)' "$out/last-run.log" | sed 's/^/  /' >&2 || true
# With -fork=N the totals are on the last status line ("#execs: cov: … exec/s: …").
grep -E '^#[0-9]+: cov' "$out/last-run.log" | tail -1 | sed 's/^/  last status: /' >&2 || true
if [[ $status -ne 0 ]]; then
  echo "fuzzer stopped with status $status; the end of its log ($out/last-run.log):" >&2
  tail -40 "$out/last-run.log" >&2
  echo "crash inputs are in fuzz/crashes/" >&2
fi
exit $status
