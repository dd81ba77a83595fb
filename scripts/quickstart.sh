#!/usr/bin/env bash
# scripts/quickstart.sh - the Thanos quick start without Docker:
#
#   Prometheus (Debian's /usr/bin/prometheus) scraping itself and the thanosc
#   components, with external labels cluster=demo, replica=0
#     -> thanosc sidecar: StoreAPI over Prometheus, ships its 2 h blocks to a
#        FILESYSTEM bucket
#     -> thanosc store: StoreAPI over that bucket
#     -> thanosc query on :9091, over the sidecar and the store
#     -> thanosc compact --wait over the bucket, with the how-to's retention
#
# Everything lives under $QS_DIR (default .deps/quickstart). Ports can be
# moved with QS_PROM_PORT, QS_QUERY_PORT and QS_PORT_BASE (sidecar, store and
# query gRPC/HTTP use BASE..BASE+5, compact's HTTP BASE+6). Ctrl-C stops every process this script
# started, by pid. Set QS_NO_BUILD=1 to skip installing and building and use
# an existing build/thanosc.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
thanosc=${THANOSC:-$top/build/thanosc}
prom=${PROMETHEUS:-/usr/bin/prometheus}
qs=${QS_DIR:-$top/.deps/quickstart}
prom_port=${QS_PROM_PORT:-9090}
query_port=${QS_QUERY_PORT:-9091}
base=${QS_PORT_BASE:-10901}
sidecar_grpc=$base sidecar_http=$((base + 1))
store_grpc=$((base + 2)) store_http=$((base + 3))
query_grpc=$((base + 4)) compact_http=$((base + 6))

if [ -z "${QS_NO_BUILD:-}" ]; then
  bash scripts/install-deps.sh
  cmake -S . -B build >/dev/null
  cmake --build build -j2 >/dev/null
fi
[ -x "$prom" ] || { echo "quickstart: no Prometheus at $prom (apt-get install prometheus)" >&2; exit 1; }

mkdir -p "$qs/bucket" "$qs/prometheus" "$qs/store" "$qs/compact" "$qs/logs"
cat >"$qs/bucket.yml" <<YAML
type: FILESYSTEM
config:
  directory: $qs/bucket
YAML
cat >"$qs/prometheus.yml" <<YAML
global:
  scrape_interval: 5s
  external_labels:
    cluster: demo
    replica: "0"
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ['127.0.0.1:$prom_port']
  - job_name: thanos
    static_configs:
      - targets: ['127.0.0.1:$sidecar_http', '127.0.0.1:$store_http', '127.0.0.1:$query_port', '127.0.0.1:$compact_http']
YAML

pids=()
cleanup() {
  trap - EXIT INT TERM
  echo
  echo "quickstart: stopping ${pids[*]}"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM

wait_ready() { # url name pid
  for _ in $(seq 1 300); do
    kill -0 "$3" 2>/dev/null || { echo "quickstart: $2 exited; see $qs/logs/$2.log" >&2; exit 1; }
    if curl -fsS "$1" >/dev/null 2>&1; then
      sleep 0.3 # still ours (not a stranger on a busy port)?
      kill -0 "$3" 2>/dev/null || { echo "quickstart: $2 exited; see $qs/logs/$2.log" >&2; exit 1; }
      return 0
    fi
    sleep 0.2
  done
  echo "quickstart: $2 not ready; see $qs/logs/$2.log" >&2
  exit 1
}

# Thanos wants Prometheus to leave its 2 h blocks uncompacted for the sidecar.
"$prom" --config.file="$qs/prometheus.yml" --storage.tsdb.path="$qs/prometheus" \
  --storage.tsdb.min-block-duration=2h --storage.tsdb.max-block-duration=2h \
  --web.listen-address="127.0.0.1:$prom_port" --web.enable-lifecycle \
  >"$qs/logs/prometheus.log" 2>&1 &
pids+=($!)
wait_ready "http://127.0.0.1:$prom_port/-/ready" prometheus "${pids[-1]}"

"$thanosc" sidecar --prometheus.url="http://127.0.0.1:$prom_port" \
  --tsdb.path="$qs/prometheus" --objstore.config-file="$qs/bucket.yml" \
  --grpc-address="127.0.0.1:$sidecar_grpc" --http-address="127.0.0.1:$sidecar_http" \
  >"$qs/logs/sidecar.log" 2>&1 &
pids+=($!)
wait_ready "http://127.0.0.1:$sidecar_http/-/ready" sidecar "${pids[-1]}"

"$thanosc" store --objstore.config-file="$qs/bucket.yml" --data-dir="$qs/store" \
  --grpc-address="127.0.0.1:$store_grpc" --http-address="127.0.0.1:$store_http" \
  >"$qs/logs/store.log" 2>&1 &
pids+=($!)
wait_ready "http://127.0.0.1:$store_http/-/ready" store "${pids[-1]}"

"$thanosc" query --http-address="0.0.0.0:$query_port" --grpc-address="127.0.0.1:$query_grpc" \
  --endpoint="127.0.0.1:$sidecar_grpc" --endpoint="127.0.0.1:$store_grpc" \
  --query.replica-label=replica \
  >"$qs/logs/query.log" 2>&1 &
pids+=($!)
wait_ready "http://127.0.0.1:$query_port/-/ready" query "${pids[-1]}"

"$thanosc" compact --data-dir="$qs/compact" --objstore.config-file="$qs/bucket.yml" \
  --retention.resolution-raw=30d --retention.resolution-5m=90d \
  --retention.resolution-1h=1y --wait --http-address="127.0.0.1:$compact_http" \
  >"$qs/logs/compact.log" 2>&1 &
pids+=($!)
wait_ready "http://127.0.0.1:$compact_http/-/ready" compact "${pids[-1]}"

cat <<EOF
The quick-start stack is up (data and logs under $qs):

  Prometheus        http://127.0.0.1:$prom_port   (cluster=demo, replica=0)
  thanosc sidecar   gRPC 127.0.0.1:$sidecar_grpc, http://127.0.0.1:$sidecar_http/metrics
  thanosc store     gRPC 127.0.0.1:$store_grpc, http://127.0.0.1:$store_http/metrics
  thanosc query     http://127.0.0.1:$query_port  (Prometheus HTTP API; Grafana data source URL)
  thanosc compact   http://127.0.0.1:$compact_http/metrics (compacts, downsamples, retention)

Try:
  curl -s 'http://127.0.0.1:$query_port/api/v1/query?query=up'
  curl -s 'http://127.0.0.1:$query_port/api/v1/stores'
  curl -s 'http://127.0.0.1:$query_port/api/v1/query?query=up&dedup=false'

Ctrl-C stops everything.
EOF
wait
