#!/usr/bin/env bash
# t0001-query-http: `thanosc query` starts with no endpoints, serves the
# built-in routes of the HTTP server (probes, /metrics accepted by both
# promtool versions), answers 404/405/413/431/400 as Go's server does, keeps
# connections alive and answers pipelined requests in order, and stops on
# SIGTERM with exit code 0 without waiting for idle keep-alive connections.
. "$(dirname "$0")/test-lib.sh"

hport=$(free_port)
gport=$(free_port)
base="http://127.0.0.1:$hport"

# Flags.
"$THANOSC" query --help >"$TMP/help" 2>&1
expect_eq "--help exits 0" "$?" 0
expect "--help shows the http default" grep -q -- '--http-address="0.0.0.0:10902"' "$TMP/help"
expect "--help shows the grpc default" grep -q -- '--grpc-address="0.0.0.0:10901"' "$TMP/help"
expect "--help shows --query.timeout" grep -q -- '--query.timeout="2m"' "$TMP/help"
expect "--help shows --query.replica-label" grep -q -- '--query.replica-label' "$TMP/help"
"$THANOSC" query --no-such-flag >"$TMP/bad" 2>&1
expect_eq "a bad flag exits 2" "$?" 2
expect "the error names the flag" grep -q -- 'no-such-flag' "$TMP/bad"
"$THANOSC" query --query.timeout=soon >"$TMP/bad" 2>&1
expect_eq "a bad duration exits 2" "$?" 2
"$THANOSC" query --deduplication.func=median >"$TMP/bad" 2>&1
expect_eq "a bad enum exits 2" "$?" 2

"$THANOSC" query --endpoint.sd-config-file=x --endpoint.sd-config=y >"$TMP/bad" 2>&1
expect_eq "exclusive config flags exit 2" "$?" 2
expect "the error names both flags" grep -q -- '--endpoint.sd-config-file and --endpoint.sd-config' "$TMP/bad"
"$THANOSC" query --store=a:1 --rule=b:2 --query.conn-metric.label=store_type \
  --store.limits.request-series=10 --no-query.partial-response \
  --tracing.config-file=tracing.yaml --enable-auto-gomemlimit \
  --grpc-server-max-connection-age=30m --help >/dev/null 2>&1
expect_eq "Thanos's deprecated and hidden flags are accepted" "$?" 0

start_bg query "$THANOSC" query --http-address=127.0.0.1:$hport \
  --grpc-address=127.0.0.1:$gport --http-grace-period=20s \
  --query.replica-label='replica, az' --query.replica-label=rule_replica,
expect "query becomes healthy" wait_http "$base/-/healthy" 20
expect "query listens on the gRPC address" wait_port "$gport" 5
expect "replica labels are split on commas and trimmed" \
  grep -q 'replica_labels=replica,az,rule_replica$' "$TMP/query.log"
expect_eq "/-/healthy says OK" "$(curl -s "$base/-/healthy")" "OK"
expect_eq "/-/ready answers 200" "$(curl -s -o /dev/null -w '%{http_code}' "$base/-/ready")" 200
expect_eq "HEAD /-/ready answers 200" "$(curl -s -I -o /dev/null -w '%{http_code}' "$base/-/ready")" 200

# /metrics in the text format, linted by both promtool versions.
curl -s -D "$TMP/mhead" "$base/metrics" >"$TMP/metrics"
expect "/metrics content type is text 0.0.4" grep -qi '^content-type: text/plain; version=0.0.4' "$TMP/mhead"
for m in process_cpu_seconds_total process_resident_memory_bytes \
  process_virtual_memory_bytes process_open_fds process_max_fds \
  process_start_time_seconds thanos_build_info; do
  expect "/metrics has $m" grep -q "^$m" "$TMP/metrics"
done
expect "promtool 2 accepts /metrics" "$PROMTOOL2" check metrics <"$TMP/metrics"
if [ -x "$PROMTOOL3" ]; then
  expect "promtool 3 accepts /metrics" "$PROMTOOL3" check metrics <"$TMP/metrics"
else
  skip "promtool 3 not installed"
fi

curl -s --compressed -D "$TMP/gzhead" "$base/metrics" >"$TMP/metrics.gz.txt"
expect "/metrics is gzip-encoded when the client accepts it" \
  grep -qi '^content-encoding: gzip' "$TMP/gzhead"
expect "gzip-decoded /metrics passes promtool" \
  "$PROMTOOL2" check metrics <"$TMP/metrics.gz.txt"
expect "plain /metrics is not encoded" bash -c "! grep -qi '^content-encoding' '$TMP/mhead'"

# Error statuses.
expect_eq "unknown path is 404" "$(curl -s -o /dev/null -w '%{http_code}' "$base/nope")" 404
curl -s -D "$TMP/h405" -o /dev/null -X POST "$base/metrics"
expect "POST /metrics is 405" grep -q '^HTTP/1.1 405' "$TMP/h405"
expect "405 names the allowed methods" grep -qi '^allow: GET, HEAD' "$TMP/h405"
expect_eq "a huge declared body is 413" \
  "$(curl -s -o /dev/null -w '%{http_code}' -X GET -H 'Content-Length: 999999999999' --data-binary x "$base/-/ready")" 413

raw() { # raw BYTES [BIG]: sends bytes (BIG: plus a 1.2 MB header) on one
        # connection, prints the answer
  "$PYTHON" - "$hport" "$1" "${2:-}" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
req = sys.argv[2].encode().decode("unicode_escape").encode("latin-1")
if sys.argv[3]:
    req = req.replace(b"\r\n\r\n", b"\r\nX-Big: " + b"a" * 1200000 + b"\r\n\r\n")
s.sendall(req)
data = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
except socket.timeout:
    pass
sys.stdout.write(data.decode("latin-1"))
PY
}
raw 'GET /-/ready HTTP/1.1\r\nHost: x\r\n\r\n' BIG >"$TMP/r431"
expect "a huge header is 431" grep -q '^HTTP/1.1 431' "$TMP/r431"
raw 'GARBAGE\r\n\r\n' >"$TMP/r400"
expect "a malformed request is 400" grep -q '^HTTP/1.1 400' "$TMP/r400"
raw 'GET /bad%zzpath HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >"$TMP/r400b"
expect "a bad escape in the path is 400" grep -q '^HTTP/1.1 400' "$TMP/r400b"
raw 'GET /-/ready HTTP/1.1\r\n\r\n' >"$TMP/r400d"
expect "an HTTP/1.1 request without Host is 400" grep -q '^HTTP/1.1 400' "$TMP/r400d"
raw 'GET /-/ready%00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >"$TMP/r400c"
expect "a NUL in the path is 400" grep -q '^HTTP/1.1 400' "$TMP/r400c"
expect_eq "the path is percent-decoded before routing" \
  "$(curl -s -o /dev/null -w '%{http_code}' "$base/-/re%61dy")" 200

# Keep-alive and pipelining: three requests in one write, answered in order
# on the same connection; the last asks to close.
raw 'GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET /-/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >"$TMP/pipe"
expect_eq "pipelined answers come in order" \
  "$(grep -o 'HTTP/1.1 [0-9]*' "$TMP/pipe" | cut -d' ' -f2 | tr '\n' ' ')" "200 404 200 "
curl -sv "$base/-/healthy" "$base/-/ready" "$base/metrics" "$base/-/healthy" \
  -o /dev/null -o /dev/null -o /dev/null -o /dev/null 2>"$TMP/ka"
expect_eq "curl reuses one connection for four requests" \
  "$(grep -ci 're-using existing connection\|reusing existing connection' "$TMP/ka")" 3
raw 'POST /-/ready HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET /-/healthy HTTP/1.0\r\n\r\n' >"$TMP/chunked"
expect_eq "a chunked body is read, then an HTTP/1.0 request closes" \
  "$(grep -o 'HTTP/1.1 [0-9]*' "$TMP/chunked" | cut -d' ' -f2 | tr '\n' ' ')" "405 200 "

# Graceful stop: an idle keep-alive connection does not hold it up.
"$PYTHON" -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
s.recv(4096)
time.sleep(30)
' "$hport" &
idle=$!
sleep 0.3
t0=$(date +%s%N)
kill -TERM "$pid_query"
wait "$pid_query"
code=$?
t1=$(date +%s%N)
kill "$idle" 2>/dev/null; wait "$idle" 2>/dev/null
expect_eq "SIGTERM exits 0" "$code" 0
ms=$(((t1 - t0) / 1000000))
expect "stopped in ${ms}ms, well within the grace period" test "$ms" -lt 3000
expect "the log says it shut down gracefully" grep -q 'shutdown gracefully' "$TMP/query.log"

# A service that cannot start (gRPC port taken) stops the others: exit 1.
hport3=$(free_port)
hport2_taken=$(free_port)
start_bg holder "$PYTHON" -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
time.sleep(60)' "$hport2_taken"
wait_port "$hport2_taken" 5
"$THANOSC" query --http-address=127.0.0.1:$hport3 \
  --grpc-address=127.0.0.1:$hport2_taken >"$TMP/busy.log" 2>&1
expect_eq "a taken gRPC port exits 1" "$?" 1
expect "the log names the address" grep -q "127.0.0.1:$hport2_taken" "$TMP/busy.log"
stop_bg holder

# The busybox entry: a thanosc-query symlink runs the querier.
ln -s "$THANOSC" "$TMP/thanosc-query"
"$TMP/thanosc-query" --help >"$TMP/lhelp" 2>&1
expect "thanosc-query --help is the querier's" grep -q 'usage: thanosc query' "$TMP/lhelp"
hport2=$(free_port)
start_bg query2 "$TMP/thanosc-query" --http-address=:$hport2 \
  --grpc-address=127.0.0.1:$(free_port)
expect "thanosc-query serves /-/ready" wait_http "http://127.0.0.1:$hport2/-/ready" 20
# The wildcard address listens for both families, as Go does.
if "$PYTHON" -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
  expect "the wildcard address answers on ::1 too" curl -fsS -o /dev/null "http://[::1]:$hport2/-/ready"
else
  skip "no IPv6 loopback"
fi
kill -INT "$pid_query2"
wait "$pid_query2"
expect_eq "SIGINT exits 0 too" "$?" 0
done_testing
