#!/usr/bin/env bash
# t0400-compliance-harness: the PromQL compliance harness checks itself.
# A second Prometheus 3.5 on a copy of the data set must match the 3.5
# references on every range and instant query, and Prometheus 2.42 must
# differ on exactly the queries listed in test/compliance/known-2.42-diffs*.txt.
. "$(dirname "$0")/test-lib.sh"

run="$TOP/test/compliance/run.sh"
bash "$run" >"$TMP/run.out" 2>&1
rc=$?
sed 's/^/# /' "$TMP/run.out" | grep -v '^# ok ' | head -n 60
expect_eq "run.sh exits 0" "$rc" 0
lines=$(grep '^compliance:' "$TMP/run.out")
expect_eq "Prometheus 3.5 self-check, range queries" \
  "$(sed -n 1p <<<"$lines")" "compliance: 539 passed, 0 failed"
expect_eq "Prometheus 3.5 self-check, instant queries" \
  "$(sed -n 2p <<<"$lines")" "compliance: 1617 passed, 0 failed"
expect_eq "Prometheus 2.42 differs exactly as listed, range queries" \
  "$(sed -n 3p <<<"$lines")" "compliance: 539 passed, 0 failed"
expect_eq "Prometheus 2.42 differs exactly as listed, instant queries" \
  "$(sed -n 4p <<<"$lines")" "compliance: 1617 passed, 0 failed"

bucket="$TMP/bucket"
expect "run.sh --make-data writes the blocks" bash "$run" --make-data "$bucket"
n=$(ls -d "$bucket"/*/meta.json 2>/dev/null | wc -l)
expect_eq "two blocks with meta.json" "$n" 2
expect "each block has an index and chunks" \
  bash -c 'for b in "$1"/*/; do [ -s "$b/index" ] && [ -s "$b/chunks/000001" ] || exit 1; done' _ "$bucket"
expect_eq "the query list expands to 539 queries" \
  "$("$PYTHON" "$TOP/test/compliance/compliance.py" list | wc -l)" 539
done_testing
