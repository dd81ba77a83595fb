#!/usr/bin/env bash
# Builds every libFuzzer target (test/fuzz/fuzz-*.c) with clang and runs
# each for the given number of seconds (default 60).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
cd "$top"
ls test/fuzz/fuzz-*.c >/dev/null 2>&1 || { echo "fuzz: no targets"; exit 0; }
CC=clang cmake -S . -B build-fuzz -DTHANOSC_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-fuzz -j"$(nproc)" >/dev/null
for f in test/fuzz/fuzz-*.c; do
  n=$(basename "$f" .c)
  corpus="build-fuzz/corpus/$n"
  mkdir -p "$corpus"
  seeds="test/fuzz/corpus/$n"
  [ -d "$seeds" ] || seeds=
  echo "fuzz: $n for ${secs}s"
  build-fuzz/test/"$n" -max_total_time="$secs" -print_final_stats=0 \
    "$corpus" $seeds 2>&1 | grep -E 'ERROR|SUMMARY|Done' || true
  [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "fuzz: $n found a crash"; exit 1; }
done
