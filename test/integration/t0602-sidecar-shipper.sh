#!/bin/bash
# t0602-sidecar-shipper.sh - the sidecar's shipper against real Prometheus
# 2.42 and 3.5 holding promtool-written history: every level-1 block lands
# in a FILESYSTEM bucket with index and chunks byte-identical and a valid
# Thanos meta.json; a restarted sidecar uploads nothing twice; a block cut
# short (as a kill -9 mid-upload leaves it: files without meta.json) is
# completed by the next round, and a real kill -9 never leaves a meta.json
# without its files; min != max block duration stops the start-up;
# `tools bucket upload-blocks` migrates a directory once.
. "$(dirname "$0")/test-lib.sh"

NOW=$(date +%s)
HEND=$(( (NOW - 3 * 3600) / 60 * 60 ))
HSTART=$(( HEND - 5 * 3600 ))

history() { # FILE
  "$PYTHON" - "$1" "$HSTART" "$HEND" <<'EOF'
import sys
f = open(sys.argv[1], "w")
s, e = int(sys.argv[2]), int(sys.argv[3])
f.write("# TYPE hist_metric gauge\n")
for i in range(3):
    for ts in range(s, e, 30):
        f.write('hist_metric{i="%d"} %d %d\n' % (i, (ts - s) * (i + 1), ts))
f.write("# EOF\n")
EOF
}

prom_yml() { # FILE PORT
  cat >"$1" <<EOF
global:
  scrape_interval: 1s
  external_labels:
    cluster: eu1
    replica: "0"
scrape_configs:
  - job_name: prom
    static_configs:
      - targets: ['127.0.0.1:$2']
EOF
}

# metric VALUE of NAME at URL (0 when absent).
metric() {
  curl -fsS "$1" 2>/dev/null | awk -v n="$2" '$1 == n { print $2; f = 1 } END { if (!f) print 0 }'
}

# Local level-1, non-empty blocks of DIR.
level1_blocks() {
  "$PYTHON" - "$1" <<'EOF'
import json, os, sys
d = sys.argv[1]
for n in sorted(os.listdir(d)):
    p = os.path.join(d, n, "meta.json")
    if len(n) == 26 and os.path.exists(p):
        m = json.load(open(p))
        if m["compaction"]["level"] == 1 and m["stats"].get("numSamples", 0):
            print(n)
EOF
}

# check_block LOCALDIR BUCKETDIR ULID SOURCE: identical files, valid meta.
check_block() {
  local l=$1/$3 b=$2/$3 f
  [ -f "$b/meta.json" ] || { echo "no meta.json for $3"; return 1; }
  cmp "$l/index" "$b/index" || return 1
  for f in "$l"/chunks/*; do
    cmp "$f" "$b/chunks/$(basename "$f")" || return 1
  done
  "$PYTHON" - "$l" "$b" "$4" <<'EOF'
import json, os, sys
l, b, src = sys.argv[1:4]
m = json.load(open(os.path.join(b, "meta.json")))
lm = json.load(open(os.path.join(l, "meta.json")))
t = m["thanos"]
assert m["ulid"] == lm["ulid"] and m["minTime"] == lm["minTime"], "prometheus part"
assert t["labels"] == {"cluster": "eu1", "replica": "0"}, t["labels"]
assert t["source"] == src, t["source"]
assert t["downsample"] == {"resolution": 0}, t["downsample"]
chunks = sorted(os.listdir(os.path.join(l, "chunks")))
assert t["segment_files"] == chunks, t["segment_files"]
want = [{"rel_path": "chunks/" + c,
         "size_bytes": os.path.getsize(os.path.join(l, "chunks", c))} for c in chunks]
want += [{"rel_path": "index", "size_bytes": os.path.getsize(os.path.join(l, "index"))},
         {"rel_path": "meta.json"}]
assert t["files"] == want, t["files"]
assert t.get("upload_time"), "upload_time"
assert open(os.path.join(b, "meta.json")).read().endswith("}\n")
EOF
}

# No meta.json in BUCKETDIR without all the files it lists.
no_partial_meta() {
  "$PYTHON" - "$1" <<'EOF'
import json, os, sys
b = sys.argv[1]
for n in os.listdir(b):
    p = os.path.join(b, n, "meta.json")
    if os.path.exists(p):
        for f in json.load(open(p))["thanos"]["files"]:
            if f["rel_path"] != "meta.json":
                q = os.path.join(b, n, f["rel_path"])
                assert os.path.getsize(q) == f["size_bytes"], q
EOF
}

bucket_has_all() { # BUCKETDIR ULID...
  local b=$1 u; shift
  for u in "$@"; do [ -f "$b/$u/meta.json" ] || return 1; done
}

wait_for() { # SECONDS cmd...
  local t=$1 i; shift
  for ((i = 0; i < t * 10; i++)); do "$@" && return 0; sleep 0.1; done
  return 1
}

start_sidecar() { # NAME PROMPORT DATA BUCKETDIR
  local g h
  g=$(free_port); h=$(free_port)
  SC_HTTP=$h
  start_bg "$1" "$THANOSC" sidecar --prometheus.url="http://127.0.0.1:$2" \
    --tsdb.path="$3" --grpc-address="127.0.0.1:$g" --http-address="127.0.0.1:$h" \
    --objstore.config="$(printf 'type: FILESYSTEM\nconfig:\n  directory: %s\n' "$4")" \
    --shipper.sync-interval=500ms --prometheus.get_config_interval=1s
}

run_version() { # VER PROM PROMTOOL
  local ver=$1 prom=$2 promtool=$3 d="$TMP/$1" tag=${1//./_}
  local data="$d/data" bkt="$d/bkt" pp blocks u n
  mkdir -p "$data" "$bkt"
  history "$d/h.om"
  expect "$ver: promtool writes history" "$promtool" tsdb create-blocks-from openmetrics "$d/h.om" "$data"
  pp=$(free_port)
  prom_yml "$d/prom.yml" "$pp"
  start_bg "prom$tag" "$prom" --config.file="$d/prom.yml" --storage.tsdb.path="$data" \
    --web.listen-address="127.0.0.1:$pp" \
    --storage.tsdb.min-block-duration=2h --storage.tsdb.max-block-duration=2h
  wait_http "http://127.0.0.1:$pp/-/ready" || true
  mapfile -t blocks < <(level1_blocks "$data")
  expect_eq "$ver: history is level-1 blocks" "$([ ${#blocks[@]} -ge 3 ] && echo yes)" yes

  start_sidecar "sc$tag" "$pp" "$data" "$bkt"
  local h=$SC_HTTP
  expect "$ver: all blocks uploaded" wait_for 60 bucket_has_all "$bkt" "${blocks[@]}"
  for u in "${blocks[@]}"; do
    expect "$ver: $u identical, valid meta.json" check_block "$data" "$bkt" "$u" sidecar
  done
  expect_eq "$ver: thanos_shipper_uploads_total" \
    "$(metric "http://127.0.0.1:$h/metrics" thanos_shipper_uploads_total)" "${#blocks[@]}"
  expect "$ver: shipper file lists them" grep -q "${blocks[0]}" "$data/thanos.shipper.json"
  expect "$ver: no staging left" test ! -e "$data/thanos/upload/${blocks[0]}"
  stop_bg "sc$tag"

  # Restarted: nothing uploaded again.
  local before after
  before=$(stat -c %Y.%s "$bkt"/*/meta.json | md5sum)
  start_sidecar "sc2$tag" "$pp" "$data" "$bkt"
  h=$SC_HTTP
  wait_http "http://127.0.0.1:$h/-/ready" || true
  expect "$ver: restarted sidecar syncs" wait_for 20 \
    bash -c "[ \"\$(curl -fsS http://127.0.0.1:$h/metrics | awk '\$1 == \"thanos_shipper_dir_syncs_total\" {print \$2}')\" -ge 3 ] 2>/dev/null"
  expect_eq "$ver: restarted sidecar uploads nothing" \
    "$(metric "http://127.0.0.1:$h/metrics" thanos_shipper_uploads_total)" 0
  after=$(stat -c %Y.%s "$bkt"/*/meta.json | md5sum)
  expect_eq "$ver: bucket metas untouched" "$after" "$before"
  stop_bg "sc2$tag" KILL

  # What a kill -9 mid-upload leaves: files, a truncated index, no
  # meta.json, the block not in the shipper file.
  u=${blocks[1]}
  rm -f "$bkt/$u/meta.json"
  : >"$bkt/$u/index"
  "$PYTHON" - "$data/thanos.shipper.json" "$u" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
m["uploaded"] = [x for x in m["uploaded"] if x != sys.argv[2]]
json.dump(m, open(sys.argv[1], "w"))
EOF
  mkdir -p "$data/thanos/upload/$u"
  start_sidecar "sc3$tag" "$pp" "$data" "$bkt"
  h=$SC_HTTP
  expect "$ver: cut-short block completed" wait_for 30 check_block "$data" "$bkt" "$u" sidecar
  expect_eq "$ver: only that block re-uploaded" \
    "$(wait_for 5 true; metric "http://127.0.0.1:$h/metrics" thanos_shipper_uploads_total)" 1
  stop_bg "sc3$tag"

  # A real kill -9 early in a fresh upload, then a normal round.
  local bkt2="$d/bkt2"
  mkdir -p "$bkt2"
  rm -f "$data/thanos.shipper.json"
  start_sidecar "sc4$tag" "$pp" "$data" "$bkt2"
  wait_for 10 test -e "$bkt2/${blocks[0]}" || true
  stop_bg "sc4$tag" KILL
  expect "$ver: after kill -9 no meta.json lacks its files" no_partial_meta "$bkt2"
  start_sidecar "sc5$tag" "$pp" "$data" "$bkt2"
  expect "$ver: after kill -9 the next run completes" wait_for 60 bucket_has_all "$bkt2" "${blocks[@]}"
  for u in "${blocks[@]}"; do
    check_block "$data" "$bkt2" "$u" sidecar >"$TMP/.cb" 2>&1 || { cat "$TMP/.cb"; n=bad; }
  done
  expect_eq "$ver: after kill -9 every block identical" "${n:-good}" good
  stop_bg "sc5$tag"
  stop_bg "prom$tag"
}

run_version 2.42 "$PROM2" "$PROMTOOL2"
run_version 3.5 "$PROM3" "$PROMTOOL3"

# Prometheus compacting locally (min != max block duration): refused.
d="$TMP/compacting"; mkdir -p "$d/data"
pp=$(free_port); prom_yml "$d/prom.yml" "$pp"
start_bg promc "$PROM3" --config.file="$d/prom.yml" --storage.tsdb.path="$d/data" \
  --web.listen-address="127.0.0.1:$pp" \
  --storage.tsdb.min-block-duration=2h --storage.tsdb.max-block-duration=6h
wait_http "http://127.0.0.1:$pp/-/ready" || true
start_sidecar scc "$pp" "$d/data" "$d/bkt"
wait_for 20 bash -c "! kill -0 $pid_scc 2>/dev/null" || true
wait "$pid_scc"; code=$?
expect_eq "min != max block duration stops the sidecar" "$code" 1
expect "... with a reason" grep -q "min-block-duration" "$TMP/scc.log"
stop_bg promc

# tools bucket upload-blocks: a promtool-written directory, once.
d="$TMP/migrate"; mkdir -p "$d/data" "$d/bkt"
history "$d/h.om"
"$PROMTOOL3" tsdb create-blocks-from openmetrics "$d/h.om" "$d/data" >/dev/null
cfg=$(printf 'type: FILESYSTEM\nconfig:\n  directory: %s\n' "$d/bkt")
expect "upload-blocks uploads" "$THANOSC" tools bucket upload-blocks --path="$d/data" \
  --label='cluster="eu1"' --label='replica="0"' --objstore.config="$cfg"
mapfile -t blocks < <(level1_blocks "$d/data")
n=good
for u in "${blocks[@]}"; do
  check_block "$d/data" "$d/bkt" "$u" bucket.upload >"$TMP/.cb" 2>&1 || { cat "$TMP/.cb"; n=bad; }
done
expect_eq "upload-blocks: ${#blocks[@]} blocks identical, source bucket.upload" "$n" good
"$THANOSC" tools bucket upload-blocks --path="$d/data" --label='cluster="eu1"' \
  --label='replica="0"' --objstore.config="$cfg" >"$TMP/up2.log" 2>&1
expect "upload-blocks again uploads nothing" grep -q 'uploaded=0' "$TMP/up2.log"
expect_fail "upload-blocks without labels refused" "$THANOSC" tools bucket upload-blocks \
  --path="$d/data" --objstore.config="$cfg"
expect_fail "upload-blocks with a bad label refused" "$THANOSC" tools bucket upload-blocks \
  --path="$d/data" --label='cluster=eu1' --objstore.config="$cfg"
done_testing
