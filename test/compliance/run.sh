#!/usr/bin/env bash
# PromQL compliance harness; see README.md beside this file.
#
#   run.sh                    self-check: a second Prometheus 3.5 against the
#                             3.5 reference, and Prometheus 2.42 against it
#                             with its known differences
#   run.sh --target URL       compare a running query API with the reference
#   run.sh --engine CMD       compare an engine command run over the blocks
#   run.sh --make-data DIR    leave the data set's blocks in DIR and stop; with
#                             --thanos-meta or --external-label NAME=VALUE
#                             (repeatable) their meta.json get a Thanos section;
#                             --replicas N [--replica-label NAME] writes each
#                             block N times, labelled NAME="0".."N-1"
#   run.sh --reference-only   build the data and the 3.5 reference only
#
# Each check runs the queries as range queries over the window and as
# instant queries at three times; --range-only or --instant-only picks one.
# With --target or --engine: --only REGEX (a subset of the queries),
# --drop-label NAME (ignore an external label; repeatable).
# Options: --workdir DIR (default $THANOSC_BUILD/compliance or
# build/compliance), --fresh (rebuild data and reference), --no-242, --keep
# (keep the scratch directory with the Prometheus logs and data copies).
# Only 127.0.0.1 is used; every process started here is stopped by its pid.
set -eo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# Ports, background processes stopped by pid on exit, the tools' paths and a
# scratch directory ($TMP, kept with KEEP_TMP=1) come from the test library.
. "$here/../integration/test-lib.sh"
top=$TOP
PY=$PYTHON
COMP="$PY $here/compliance.py"

target= engine= make_data= fresh= no242= refonly= pick=() tmeta=() kinds="range instant"
work=${THANOSC_BUILD:-$top/build}/compliance
while [ $# -gt 0 ]; do
  case $1 in
    --target) target=$2; shift 2 ;;
    --target=*) target=${1#*=}; shift ;;
    --engine) engine=$2; shift 2 ;;
    --engine=*) engine=${1#*=}; shift ;;
    --make-data) make_data=$2; shift 2 ;;
    --make-data=*) make_data=${1#*=}; shift ;;
    --workdir) work=$2; shift 2 ;;
    --workdir=*) work=${1#*=}; shift ;;
    --fresh) fresh=1; shift ;;
    --no-242) no242=1; shift ;;
    --keep) export KEEP_TMP=1; shift ;;
    --reference-only) refonly=1; shift ;;
    --only|--drop-label) pick+=("$1" "$2"); shift 2 ;;
    --thanos-meta) tmeta+=(--source test); shift ;;
    --range-only) kinds=range; shift ;;
    --instant-only) kinds=instant; shift ;;
    --external-label) tmeta+=(--label "$2"); shift 2 ;;
    --external-label=*) tmeta+=(--label "${1#*=}"); shift ;;
    --replicas) tmeta+=(--replicas "$2"); shift 2 ;;
    --replica-label) tmeta+=(--replica-label "$2"); shift 2 ;;
    --only=*|--drop-label=*) pick+=("$1"); shift ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

for f in "$PROM3" "$PROMTOOL3"; do
  [ -x "$f" ] || { echo "run.sh: '$f' missing; run scripts/install-deps.sh" >&2; exit 2; }
done
mkdir -p "$work"
run=$TMP

now() { date +%s.%N; }
since() { $PY -c "import sys; print('%.1f s' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$(now)"; }

# ---- data set --------------------------------------------------------------
# One run at a time builds the data and the reference in $work.
exec 9>"$work/.lock"
flock 9
data_key=$( { cat "$here/gen-data.py"; "$PROMTOOL3" --version 2>&1 | head -n 1; } | sha256sum | cut -c1-16)
blocks=$work/blocks
if [ -n "$fresh" ] || [ "$(cat "$work/blocks.key" 2>/dev/null)" != "$data_key" ] ||
   ! ls "$blocks"/01*/meta.json >/dev/null 2>&1; then
  t0=$(now)
  rm -rf "$blocks" "$work/blocks.key" "$work/ref-3.5.jsonl"
  $PY "$here/gen-data.py" "$work/data.om"
  "$PROMTOOL3" tsdb create-blocks-from openmetrics -q "$work/data.om" "$blocks" >/dev/null
  rm -f "$work/data.om"
  echo "$data_key" >"$work/blocks.key"
  echo "# data set: $(ls -d "$blocks"/01* | wc -l) blocks in $blocks ($(since "$t0"))"
fi

copy_blocks() { # DEST: the ULID directories only
  mkdir -p "$1"
  local b
  for b in "$blocks"/01*/; do cp -r "${b%/}" "$1/"; done
}

if [ -n "$make_data" ]; then
  copy_blocks "$make_data"
  [ ${#tmeta[@]} -eq 0 ] || "$PY" "$here/thanos-meta.py" "$make_data" "${tmeta[@]}" >/dev/null
  echo "# blocks written to $make_data"
  exit 0
fi

# ---- Prometheus servers ----------------------------------------------------
printf 'global:\n  scrape_interval: 15s\n' >"$run/prometheus.yml"
start_prom() { # NAME BINARY: a Prometheus on a copy of the blocks; sets $url
  local name=$1 bin=$2 port
  copy_blocks "$run/$name"
  port=$(free_port)
  start_bg "$name" "$bin" --config.file="$run/prometheus.yml" \
    --storage.tsdb.path="$run/$name" --storage.tsdb.retention.time=100y \
    --web.listen-address="127.0.0.1:$port"
  url=http://127.0.0.1:$port
  wait_http "$url/-/ready" 60 || {
    echo "run.sh: $name did not become ready; its log:" >&2
    tail -n 20 "$run/$name.log" >&2
    exit 1
  }
}

# ---- the 3.5 references: range queries, instant queries ---------------------
# mode_args KIND: the compliance.py flag of a kind; ref_of KIND: its reference.
mode_args() { [ "$1" = instant ] && echo --instant || true; }
ref_of() { [ "$1" = instant ] && echo "$work/ref-3.5-instant.jsonl" || echo "$work/ref-3.5.jsonl"; }
ref_key=$( { echo "$data_key"; cat "$here/compliance.py" "$top/../shared/promql-compliance/promql-test-queries.yml";
             "$PROM3" --version 2>&1 | head -n 1; } | sha256sum | cut -c1-16)
if [ -n "$fresh" ] || [ "$(cat "$work/ref-3.5.key" 2>/dev/null)" != "$ref_key" ] ||
   [ ! -s "$(ref_of range)" ] || [ ! -s "$(ref_of instant)" ]; then
  t0=$(now)
  start_prom prom35-ref "$PROM3"
  for kind in range instant; do
    $COMP record $(mode_args $kind) --url "$url" --out "$(ref_of $kind)"
  done
  stop_bg prom35-ref
  echo "$ref_key" >"$work/ref-3.5.key"
  echo "# references: $(cat "$(ref_of range)" "$(ref_of instant)" | wc -l) answers from Prometheus 3.5 ($(since "$t0"))"
fi
flock -u 9
[ -z "$refonly" ] || exit 0

status=0
if [ -n "$target" ] || [ -n "$engine" ]; then
  for kind in $kinds; do
    t0=$(now)
    if [ -n "$target" ]; then
      src=(--url "$target") what="target $target"
    else
      src=(--engine "$engine" --blocks "$blocks") what="engine"
    fi
    echo "# $what: $kind queries"
    $COMP check $(mode_args $kind) --ref "$(ref_of $kind)" "${src[@]}" "${pick[@]}" \
      --save "$work/answers-$kind.jsonl" || status=1
    echo "# $what: $kind queries checked ($(since "$t0"))"
  done
  exit $status
fi

# ---- self-check: a second Prometheus 3.5, then Prometheus 2.42 ---------------
t0=$(now)
start_prom prom35 "$PROM3"
for kind in $kinds; do
  echo "# self-check: Prometheus 3.5 on a copy of the blocks, $kind queries"
  $COMP check $(mode_args $kind) --ref "$(ref_of $kind)" --url "$url" || status=1
done
echo "# self-check done ($(since "$t0"))"

if [ -z "$no242" ] && [ -x "$PROM2" ]; then
  t0=$(now)
  start_prom prom242 "$PROM2"
  for kind in $kinds; do
    list=$here/known-2.42-diffs.txt
    [ $kind = range ] || list=$here/known-2.42-diffs-$kind.txt
    echo "# Prometheus 2.42 against the 3.5 reference, $kind queries (differences listed in ${list##*/})"
    $COMP check $(mode_args $kind) --ref "$(ref_of $kind)" --url "$url" \
      --save "$work/answers-2.42-$kind.jsonl" --expect-diff "$list" || status=1
  done
  echo "# 2.42 done ($(since "$t0"))"
fi
exit $status
