#!/usr/bin/env bash
# Builds the libFuzzer targets (preset `fuzz`, clang) and runs each for SECONDS (default 60)
# from its seed corpus in tests/fuzz/corpus. New inputs go to a temporary directory, so the
# repository's seeds stay small. Exits non-zero on the first crash, sanitizer report or
# broken invariant, leaving the reproducer (crash-*) in build-fuzz/findings/.
#   bash tests/fuzz/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
targets=(request_head chunked_decoder response_head config_loader prometheus_text)

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j"$(nproc)" --target "${targets[@]/#/fuzz_}"

findings=build-fuzz/findings
mkdir -p "$findings"
for target in "${targets[@]}"; do
  work=$(mktemp -d)
  echo "fuzz: $target for ${seconds}s"
  if ! "build-fuzz/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -print_final_stats=1 \
        -artifact_prefix="$findings/$target-" "$work" "tests/fuzz/corpus/$target" >"$findings/$target.log" 2>&1; then
    tail -40 "$findings/$target.log"
    echo "fuzz: $target FAILED (reproducer in $findings/)"
    rm -rf "$work"
    exit 1
  fi
  grep -E '^stat::number_of_executed_units|^Done' "$findings/$target.log" | tr '\n' ' '; echo
  rm -rf "$work"
done
echo "fuzz: all ${#targets[@]} targets ran ${seconds}s without a finding"
