#!/usr/bin/env bash
# promql-conformance.sh - run Prometheus's promqltest .test scripts through
# thanosc's PromQL engine (`thanosc tools promql test`).
#
#   scripts/promql-conformance.sh [--update] [-v] [FILE.test...]
#
# Without FILEs it runs every ../shared/promql-testdata/*.test (override the
# directory with PROMQL_TESTDATA). Prints one line per skipped case with its
# reason, per-file counts and the final
#   promql conformance: N passed, M failed, K skipped
# It fails only on a failing case that is not listed in
# test/promql/known-failures.txt; --update rewrites that list from this run.
set -u
here=$(cd "$(dirname "$0")" && pwd)
srcdir=${THANOSC_SRCDIR:-$(dirname "$here")}
bin=${THANOSC:-$srcdir/build/thanosc}
data=${PROMQL_TESTDATA:-$srcdir/../shared/promql-testdata}
known=$srcdir/test/promql/known-failures.txt
update=
args=()
for a in "$@"; do
  case $a in
  --update) update=1 ;;
  -v) args+=(-v) ;;
  *) files+=("$a") ;;
  esac
done
if [ -z "${files+x}" ]; then
  files=("$data"/*.test)
fi
if [ ! -x "$bin" ]; then
  echo "promql-conformance: no thanosc binary at $bin (set THANOSC)" >&2
  exit 2
fi
if [ -n "$update" ]; then
  exec "$bin" tools promql test --update="$known" "${args[@]}" "${files[@]}"
fi
exec "$bin" tools promql test --known-failures="$known" "${args[@]}" "${files[@]}"
