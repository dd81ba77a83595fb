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
#                             (repeatable) their meta.json get a Thanos section
#   run.sh --reference-only   build the data and the 3.5 reference only
#
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

target= engine= make_data= fresh= no242= refonly= pick=() tmeta=()
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
    --external-label) tmeta+=(--label "$2"); shift 2 ;;
    --external-label=*) tmeta+=(--label "${1#*=}"); shift ;;
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

# ---- the 3.5 reference -----------------------------------------------------
ref=$work/ref-3.5.jsonl
ref_key=$( { echo "$data_key"; cat "$here/compliance.py" "$top/../shared/promql-compliance/promql-test-queries.yml";
             "$PROM3" --version 2>&1 | head -n 1; } | sha256sum | cut -c1-16)
if [ -n "$fresh" ] || [ "$(cat "$work/ref-3.5.key" 2>/dev/null)" != "$ref_key" ] || [ ! -s "$ref" ]; then
  t0=$(now)
  start_prom prom35-ref "$PROM3"
  $COMP record --url "$url" --out "$ref"
  stop_bg prom35-ref
  echo "$ref_key" >"$work/ref-3.5.key"
  echo "# reference: $(wc -l <"$ref") answers from Prometheus 3.5, $(du -h "$ref" | cut -f1) ($(since "$t0"))"
fi
flock -u 9
[ -z "$refonly" ] || exit 0

status=0
if [ -n "$target" ]; then
  t0=$(now)
  $COMP check --ref "$ref" --url "$target" "${pick[@]}" --save "$work/answers-target.jsonl" || status=1
  echo "# target $target checked ($(since "$t0"))"
  exit $status
fi
if [ -n "$engine" ]; then
  t0=$(now)
  $COMP check --ref "$ref" --engine "$engine" --blocks "$blocks" "${pick[@]}" \
    --save "$work/answers-engine.jsonl" || status=1
  echo "# engine checked ($(since "$t0"))"
  exit $status
fi

# ---- self-check: a second Prometheus 3.5, then Prometheus 2.42 ---------------
t0=$(now)
start_prom prom35 "$PROM3"
echo "# self-check: Prometheus 3.5 on a copy of the blocks"
$COMP check --ref "$ref" --url "$url" || status=1
echo "# self-check done ($(since "$t0"))"

if [ -z "$no242" ] && [ -x "$PROM2" ]; then
  t0=$(now)
  start_prom prom242 "$PROM2"
  echo "# Prometheus 2.42 against the 3.5 reference (differences listed in known-2.42-diffs.txt)"
  $COMP check --ref "$ref" --url "$url" --save "$work/answers-2.42.jsonl" \
    --expect-diff "$here/known-2.42-diffs.txt" || status=1
  echo "# 2.42 done ($(since "$t0"))"
fi
exit $status
