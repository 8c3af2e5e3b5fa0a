#!/usr/bin/env bash
# Builds the libFuzzer targets (preset `fuzz`, clang) and runs each for SECONDS (default 60), one per core
# at a time, from its seed corpus in tests/fuzz/corpus. New inputs go to a temporary directory, so the
# repository's seeds stay small. Exits non-zero on the first crash, sanitizer report or
# broken invariant (after the running batch ends), leaving the reproducer (crash-*) in build-fuzz/findings/.
#   bash tests/fuzz/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
targets=(request_head chunked_decoder response_head config_loader prometheus_text)

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j"$(nproc)" --target "${targets[@]/#/fuzz_}"

findings=build-fuzz/findings
mkdir -p "$findings"

# One target: SECONDS from its seeds; the log keeps what it printed.
fuzz_one() {
  local target=$1 work rc=0
  work=$(mktemp -d)
  "build-fuzz/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -print_final_stats=1 \
      -artifact_prefix="$findings/$target-" "$work" "tests/fuzz/corpus/$target" >"$findings/$target.log" 2>&1 || rc=$?
  rm -rf "$work"
  return $rc
}

# As many targets at once as there are cores (each target is one process), so CI's wall time
# is SECONDS x targets / cores rather than SECONDS x targets.
parallel=$(nproc)
failed=()
for ((first = 0; first < ${#targets[@]}; first += parallel)); do
  batch=("${targets[@]:first:parallel}")
  pids=()
  for target in "${batch[@]}"; do
    echo "fuzz: $target for ${seconds}s"
    fuzz_one "$target" &
    pids+=($!)
  done
  for i in "${!batch[@]}"; do
    target=${batch[$i]}
    if wait "${pids[$i]}"; then
      echo "fuzz: $target: $(grep -E '^stat::number_of_executed_units|^Done' "$findings/$target.log" | tr '\n' ' ')"
    else
      tail -40 "$findings/$target.log"
      echo "fuzz: $target FAILED (reproducer in $findings/)"
      failed+=("$target")
    fi
  done
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}"
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${seconds}s without a finding"
