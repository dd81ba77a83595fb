#!/usr/bin/env bash
# Installs what is needed, builds thanosc without warnings and runs every
# test: unit, PromQL conformance, integration (real Prometheus, s3rver,
# grpcio peers), then the unit and conformance tests again under
# ASan+UBSan, then each libFuzzer target for a few seconds.
#
#   scripts/test.sh                 everything
#   THANOSC_SKIP_DEPS=1 scripts/test.sh    without the install step
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=$(nproc 2>/dev/null || echo 2)

[ -n "${THANOSC_SKIP_DEPS:-}" ] || bash scripts/install-deps.sh

step() { printf '\n== %s\n' "$*"; }

step "source checks"
bash scripts/checksrc.sh

step "build (-Wall -Wextra -Werror)"
cmake -S . -B build -DTHANOSC_WERROR=ON >/dev/null
cmake --build build -j"$jobs"

step "unit tests"
ctest --test-dir build -L '^unit$' --output-on-failure
step "conformance"
ctest --test-dir build -L '^conformance$' --output-on-failure
grep -h '^promql conformance:' build/Testing/Temporary/LastTest.log || true
step "integration tests"
ctest --test-dir build -L '^integration$' --output-on-failure -j"$jobs"

step "unit and conformance tests under ASan+UBSan"
cmake -S . -B build-asan -DTHANOSC_WERROR=ON -DTHANOSC_SANITIZE=ON \
  -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j"$jobs" --target run-tests thanosc
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1
build-asan/test/run-tests
THANOSC=build-asan/thanosc bash scripts/promql-conformance.sh | tail -1
unset ASAN_OPTIONS UBSAN_OPTIONS

step "fuzz targets (short runs)"
bash scripts/fuzz.sh "${THANOSC_FUZZ_SECONDS:-10}"
