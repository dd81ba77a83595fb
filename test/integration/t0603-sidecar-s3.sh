#!/bin/bash
# t0603-sidecar-s3.sh - the sidecar's shipper into S3 (s3rver on loopback)
# next to Prometheus 3.5 with promtool-written history: every level-1 block
# lands with index and chunks byte-identical (read back through S3) and a
# Thanos meta.json; a restarted sidecar uploads nothing twice; the objstore
# metrics count the uploads.
. "$(dirname "$0")/test-lib.sh"

[ -x "$S3RVER" ] || { skip "s3rver not installed"; done_testing; exit 0; }
NOW=$(date +%s)
HEND=$(( (NOW - 3 * 3600) / 60 * 60 ))
HSTART=$(( HEND - 5 * 3600 ))

sport=$(free_port)
mkdir -p "$TMP/s3rver"
NODE_OPTIONS=--openssl-legacy-provider start_bg s3rver "$S3RVER" -d "$TMP/s3rver" \
  -a 127.0.0.1 -p "$sport" --silent --configure-bucket blocks
wait_port "$sport"
cfg=$(printf 'type: S3\nconfig:\n  bucket: blocks\n  endpoint: 127.0.0.1:%s\n  insecure: true\n  access_key: S3RVER\n  secret_key: S3RVER\n  region: us-east-1\n' "$sport")

"$PYTHON" - "$TMP/h.om" "$HSTART" "$HEND" <<'EOF'
import sys
f = open(sys.argv[1], "w")
s, e = int(sys.argv[2]), int(sys.argv[3])
f.write("# TYPE hist_metric gauge\n")
for i in range(3):
    for ts in range(s, e, 30):
        f.write('hist_metric{i="%d"} %d %d\n' % (i, (ts - s) * (i + 1), ts))
f.write("# EOF\n")
EOF
data="$TMP/data"
mkdir -p "$data"
expect "promtool writes history" "$PROMTOOL3" tsdb create-blocks-from openmetrics "$TMP/h.om" "$data"
mapfile -t blocks < <(cd "$data" && ls -d 01* | sort)

pp=$(free_port)
cat >"$TMP/prom.yml" <<EOF
global:
  scrape_interval: 1s
  external_labels:
    cluster: eu1
    replica: "0"
scrape_configs:
  - job_name: prom
    static_configs:
      - targets: ['127.0.0.1:$pp']
EOF
start_bg prom "$PROM3" --config.file="$TMP/prom.yml" --storage.tsdb.path="$data" \
  --web.listen-address="127.0.0.1:$pp" \
  --storage.tsdb.min-block-duration=2h --storage.tsdb.max-block-duration=2h
wait_http "http://127.0.0.1:$pp/-/ready" || true

start_sidecar() { # NAME
  local g
  g=$(free_port); SC_HTTP=$(free_port)
  start_bg "$1" "$THANOSC" sidecar --prometheus.url="http://127.0.0.1:$pp" \
    --tsdb.path="$data" --grpc-address="127.0.0.1:$g" --http-address="127.0.0.1:$SC_HTTP" \
    --objstore.config="$cfg" --shipper.sync-interval=500ms
}

get() { "$THANOSC" tools bucket get --objstore.config="$cfg" "$1"; }
all_there() {
  local u
  for u in "${blocks[@]}"; do get "$u/meta.json" >/dev/null 2>&1 || return 1; done
}
wait_for() { local t=$1 i; shift; for ((i = 0; i < t * 10; i++)); do "$@" && return 0; sleep 0.1; done; return 1; }

start_sidecar sc
expect "all ${#blocks[@]} blocks uploaded to S3" wait_for 60 all_there
bad=
for u in "${blocks[@]}"; do
  get "$u/index" >"$TMP/idx" && cmp -s "$TMP/idx" "$data/$u/index" || bad="$bad $u/index"
  for c in "$data/$u"/chunks/*; do
    get "$u/chunks/$(basename "$c")" >"$TMP/c" && cmp -s "$TMP/c" "$c" || bad="$bad $u/$c"
  done
  get "$u/meta.json" >"$TMP/m.json"
  "$PYTHON" -c '
import json, sys
t = json.load(open(sys.argv[1]))["thanos"]
assert t["labels"] == {"cluster": "eu1", "replica": "0"} and t["source"] == "sidecar"
assert t["files"][-1] == {"rel_path": "meta.json"}
' "$TMP/m.json" || bad="$bad $u/meta.json"
done
expect_eq "index and chunks identical, meta.json valid" "${bad:-none}" none
m=$(curl -fsS "http://127.0.0.1:$SC_HTTP/metrics")
expect "objstore metrics count uploads" grep -q 'thanos_objstore_bucket_operations_total{bucket="blocks",operation="upload"}' <<<"$m"
expect_eq "thanos_shipper_uploads_total" "$(awk '$1 == "thanos_shipper_uploads_total" {print $2}' <<<"$m")" "${#blocks[@]}"
stop_bg sc

rm -f "$data/thanos.shipper.json" # lost: the bucket is asked instead
start_sidecar sc2
syncs() { [ "$(curl -fsS "http://127.0.0.1:$SC_HTTP/metrics" | awk '$1 == "thanos_shipper_dir_syncs_total" {print $2}')" -ge 3 ] 2>/dev/null; }
expect "restarted sidecar syncs" wait_for 20 syncs
expect_eq "restarted sidecar uploads nothing twice" \
  "$(curl -fsS "http://127.0.0.1:$SC_HTTP/metrics" | awk '$1 == "thanos_shipper_uploads_total" {print $2}')" 0
expect "the shipper file is rebuilt from the bucket" grep -q "${blocks[0]}" "$data/thanos.shipper.json"
done_testing
