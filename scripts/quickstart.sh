#!/usr/bin/env bash
# Installs what is needed, builds thanosc and starts it on embedded defaults:
# a FILESYSTEM bucket under .deps/quickstart/bucket and the querier on :9091.
# Ctrl-C stops everything this script started.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bash scripts/install-deps.sh
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
qs="$top/.deps/quickstart"
mkdir -p "$qs/bucket"
cat >"$qs/bucket.yaml" <<YAML
type: FILESYSTEM
config:
  directory: $qs/bucket
YAML
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait; }
trap cleanup EXIT INT TERM
build/thanosc query --http-address=127.0.0.1:9091 --grpc-address=127.0.0.1:10901 &
pids+=($!)
echo "thanosc query on http://127.0.0.1:9091 (bucket: $qs/bucket). Ctrl-C stops it."
wait
