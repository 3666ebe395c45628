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
