#!/usr/bin/env bash
# Builds every libFuzzer target (test/fuzz/fuzz-*.c) with clang and runs
# each for the given number of seconds (default 60), starting from its seed
# corpus (test/fuzz/corpus/fuzz-NAME/) when there is one. A crash fails the
# run and leaves the input under build-fuzz/artifacts/.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
cd "$top"
ls test/fuzz/fuzz-*.c >/dev/null 2>&1 || { echo "fuzz: no targets"; exit 0; }
CC=clang cmake -S . -B build-fuzz -DTHANOSC_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-fuzz -j"$(nproc)" >/dev/null
mkdir -p build-fuzz/artifacts
failed=0
for f in test/fuzz/fuzz-*.c; do
  n=$(basename "$f" .c)
  corpus="build-fuzz/corpus/$n"
  mkdir -p "$corpus"
  seeds=()
  [ -d "test/fuzz/corpus/$n" ] && seeds=("test/fuzz/corpus/$n")
  rc=0
  build-fuzz/test/"$n" -max_total_time="$secs" -print_final_stats=0 \
    -artifact_prefix="build-fuzz/artifacts/$n-" "$corpus" "${seeds[@]}" \
    >"build-fuzz/$n.log" 2>&1 || rc=$?
  if [ "$rc" -eq 0 ]; then
    echo "fuzz: $n ok ($(grep -oE 'Done [0-9]+ runs' "build-fuzz/$n.log" | tail -n 1))"
  else
    echo "fuzz: $n FAILED (exit $rc)"
    grep -E 'ERROR|SUMMARY|artifact' "build-fuzz/$n.log" | head -n 5
    failed=1
  fi
done
exit "$failed"
