#!/usr/bin/env bash
# Owns: running the libFuzzer targets for a fixed time each and judging the runs (`make fuzz`, `make fuzz-ci`).
#
# Usage: tests/fuzz/run.sh build/fuzz/fuzz_<name>...   (FUZZ_SECONDS per target, default 60;
#        FUZZ_ARGS: more libFuzzer flags for every target, e.g. -max_len=300000)
# For each target: the working corpus build/fuzz/corpus-<name>/ is seeded from the committed
# tests/fuzz/corpus/<name>/ (which is never written), tests/fuzz/<name>.dict is used when it
# exists, the log goes to build/fuzz/logs/<name>.log and a failing input to
# build/fuzz/artifacts/<name>/. Prints one line per target with its executions, then the total.
# Exits 1 when any target crashed, leaked, timed out or printed a sanitizer report.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
cd "$ROOT"
SECONDS_EACH="${FUZZ_SECONDS:-60}"
OUT=build/fuzz

(($#)) || { echo "usage: $0 build/fuzz/fuzz_<name>..." >&2; exit 2; }
[[ "$SECONDS_EACH" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz: FUZZ_SECONDS must be a whole number > 0" >&2; exit 2; }

# Readable stacks: bookworm installs the symbolizer as llvm-14's, not on PATH.
if [[ -x /usr/lib/llvm-14/bin/llvm-symbolizer ]]; then
  export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
fi
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

total=0
failed=0
summary=()
for bin in "$@"; do
  name="$(basename "$bin")"
  name="${name#fuzz_}"
  seeds="tests/fuzz/corpus/$name"
  work="$OUT/corpus-$name"
  artifacts="$OUT/artifacts/$name"
  log="$OUT/logs/$name.log"
  mkdir -p "$work" "$artifacts" "$(dirname "$log")"
  if [[ -d "$seeds" ]]; then
    cp -n "$seeds"/* "$work"/ 2>/dev/null || true
  else
    echo "fuzz: $name has no seeds in $seeds, it starts from nothing" >&2
  fi
  args=(-max_total_time="$SECONDS_EACH" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048
        -artifact_prefix="$artifacts/")
  [[ -f "tests/fuzz/$name.dict" ]] && args+=(-dict="tests/fuzz/$name.dict")
  read -r -a extra <<<"${FUZZ_ARGS:-}"
  args+=("${extra[@]}")

  echo "fuzz: $name for ${SECONDS_EACH}s (log $log)" >&2
  start="$OUT/logs/.$name.start"
  touch "$start"
  rc=0
  "$bin" "${args[@]}" "$work" >"$log" 2>&1 || rc=$?

  execs="$(sed -n 's/^stat::number_of_executed_units: *\([0-9][0-9]*\).*/\1/p' "$log" | tail -1)"
  execs="${execs:-0}"
  total=$((total + execs))
  # libFuzzer exits non-zero on a crash, leak, timeout or OOM; a sanitizer report that did not
  # stop the run would still be a failure.
  if ((rc != 0)) || grep -qE '^(==[0-9]+==ERROR|SUMMARY: )|runtime error:|INVARIANT BROKEN' "$log"; then
    failed=$((failed + 1))
    artifact="$(find "$artifacts" -type f -newer "$start" | head -1)" # the input this run wrote
    summary+=("$(printf 'fuzz: %-10s FAILED after %s executions (exit %s); reproduce: %s %s' "$name" "$execs" \
      "$rc" "$bin" "${artifact:-(no input written, see $log)}")")
    echo "---- $log (last 60 lines)" >&2
    tail -n 60 "$log" >&2
    echo "----" >&2
  else
    corpus="$(find "$work" -type f | wc -l)"
    summary+=("$(printf 'fuzz: %-10s %12s executions in %ss, corpus %s, no crash' "$name" "$execs" "$SECONDS_EACH" "$corpus")")
  fi
done

printf '%s\n' "${summary[@]}"
printf 'fuzz: %-10s %12s executions, %d of %d targets failed\n' total "$total" "$failed" "$#"
((failed == 0))
