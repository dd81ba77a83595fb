#!/usr/bin/env bash
# scripts/bench/http.sh - load on the HTTP server: wrk with 200 connections
# for 10 s against /metrics of `thanosc query`, then the same load against
# /metrics of Prometheus 2 (the baseline, same machine, same run).
#
# Prints requests/s and errors of both, their ratio, and thanosc's RSS
# before and after the run (target: no errors, RSS after within 10%).
#
#   scripts/bench/http.sh [DURATION] [CONNECTIONS]     defaults: 10s 200
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
THANOSC=${THANOSC:-$top/build/thanosc}
PROM=${PROM:-/usr/bin/prometheus}
dur=${1:-10s}
conns=${2:-200}
threads=2
command -v wrk >/dev/null || { echo "http.sh: wrk is not installed" >&2; exit 2; }
[ -x "$THANOSC" ] || { echo "http.sh: no $THANOSC, build first" >&2; exit 2; }

tmp=$(mktemp -d /tmp/thanosc-bench-http-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() {
  for _ in $(seq 100); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "http.sh: $1 did not come up" >&2; exit 1
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
# run_wrk URL: prints "requests/s errors"
run_wrk() {
  wrk -t"$threads" -c"$conns" -d"$dur" --latency "$1" >"$tmp/wrk.out" 2>&1
  local rps errs non2xx
  rps=$(awk '/^Requests\/sec/ {print $2}' "$tmp/wrk.out")
  errs=$(awk '/Socket errors/ {gsub(",", ""); s = 0; for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+$/) s += $i; print s}' "$tmp/wrk.out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$tmp/wrk.out")
  echo "${rps:-0} $(( ${errs:-0} + ${non2xx:-0} ))"
}

hport=$(free_port)
ulimit -n 4096 2>/dev/null || true
"$THANOSC" query --http-address=127.0.0.1:$hport \
  --grpc-address=127.0.0.1:$(free_port) --log.level=warn >"$tmp/query.log" 2>&1 &
qpid=$!
pids+=("$qpid")
wait_up "http://127.0.0.1:$hport/-/ready"
# Warm up once so RSS before includes what any first request allocates.
wrk -t1 -c"$conns" -d1s "http://127.0.0.1:$hport/metrics" >/dev/null 2>&1 || true
rss0=$(rss_kb "$qpid")
read -r t_rps t_err < <(run_wrk "http://127.0.0.1:$hport/metrics")
sleep 0.5
rss1=$(rss_kb "$qpid")
tail -n +1 "$tmp/wrk.out" | sed -n '/Latency Distribution/,/99%/p' | sed 's/^/  thanosc /'

b_rps=0 b_err=-
if [ -x "$PROM" ]; then
  pport=$(free_port)
  printf 'global:\n  scrape_interval: 1h\n' >"$tmp/prom.yml"
  "$PROM" --config.file="$tmp/prom.yml" --storage.tsdb.path="$tmp/prom" \
    --web.listen-address=127.0.0.1:$pport >"$tmp/prom.log" 2>&1 &
  pids+=("$!")
  wait_up "http://127.0.0.1:$pport/-/ready"
  read -r b_rps b_err < <(run_wrk "http://127.0.0.1:$pport/metrics")
fi

echo "http.sh: wrk -t$threads -c$conns -d$dur GET /metrics"
printf '  thanosc query : %10.0f req/s  errors %s\n' "$t_rps" "$t_err"
printf '  prometheus 2  : %10.0f req/s  errors %s  (baseline)\n' "$b_rps" "$b_err"
awk -v a="$t_rps" -v b="$b_rps" 'BEGIN { if (b > 0) printf "  ratio thanosc/prometheus: %.2f\n", a / b }'
awk -v a="$rss0" -v b="$rss1" 'BEGIN { printf "  thanosc RSS: before %d KiB, after %d KiB (%+.1f%%)\n", a, b, (b - a) * 100 / a }'
ok=1
[ "$t_err" -eq 0 ] || { echo "  FAIL: thanosc had errors"; ok=0; }
awk -v a="$rss0" -v b="$rss1" 'BEGIN { exit !(b <= a * 1.10) }' ||
  { echo "  FAIL: RSS grew more than 10%"; ok=0; }
[ "$ok" -eq 1 ] && echo "  ok: no errors, RSS within 10%"
[ "$ok" -eq 1 ]
