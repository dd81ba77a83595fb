# t0700-store-tools: `thanosc tools store` against thanosc's synthetic
# StoreAPI (serve-test): every subcommand, selectors, time ranges, snappy,
# --samples, and the usage and connection errors.
. "$(dirname "$0")/test-lib.sh"

port=$(free_port)
start_bg store "$THANOSC" tools store serve-test --series=2500 \
  --grpc-address=127.0.0.1:$port --external-label=replica=r1
wait_port "$port" || exit 1
ep=--endpoint=127.0.0.1:$port
T=("$THANOSC" tools store)

expect "info" "${T[@]}" info "$ep"
expect_eq "info shows the component and external labels" \
  "$("${T[@]}" info "$ep" | head -2 | tr '\n' ' ')" \
  'component: store label_set: {replica="r1"} '
expect_eq "label-names" "$("${T[@]}" label-names "$ep" | tr '\n' ' ')" \
  "__name__ i job "
expect_eq "label-values" "$("${T[@]}" label-values "$ep" --label=job)" \
  "serve-test"
expect_eq "series count" "$("${T[@]}" series "$ep" --match='{job="serve-test"}' 2>/dev/null | wc -l)" 2500
expect_eq "series with snappy" \
  "$("${T[@]}" series "$ep" --grpc-compression=snappy --match=test_metric 2>/dev/null | tail -1)" \
  '{__name__="test_metric", i="00002499", job="serve-test"} chunks=1 samples=1'
expect_eq "--samples prints value and timestamp" \
  "$("${T[@]}" series "$ep" --samples --match=test_metric 2>/dev/null | sed -n 3p)" \
  '{__name__="test_metric", i="00000002", job="serve-test"} 2 1700000000000'
expect_eq "--samples outside the time range prints nothing" \
  "$("${T[@]}" series "$ep" --samples --match=test_metric --max-time=2020-01-01T00:00:00Z 2>/dev/null | wc -l)" 0
expect_eq "--skip-chunks prints labels only" \
  "$("${T[@]}" series "$ep" --skip-chunks --match=test_metric 2>/dev/null | head -1)" \
  '{__name__="test_metric", i="00000000", job="serve-test"}'

"${T[@]}" series "$ep" --match='{job=~"("}' >/dev/null 2>"$TMP/err"
expect_eq "bad regex is a usage error" "$?" 2
"${T[@]}" series --match=up >/dev/null 2>"$TMP/err"
expect_eq "missing --endpoint is a usage error" "$?" 2
expect "--help exits 0" "${T[@]}" series --help
"${T[@]}" label-values "$ep" --label= >/dev/null 2>"$TMP/err"
expect_eq "server error exits 1" "$?" 1
expect "server error is printed with its code" grep -q "code = InvalidArgument" "$TMP/err"
"${T[@]}" info --endpoint=127.0.0.1:1 --timeout=5s >/dev/null 2>"$TMP/err"
expect_eq "nothing listening exits 1" "$?" 1
expect "... with Unavailable" grep -q "code = Unavailable" "$TMP/err"
"${T[@]}" info --endpoint=nocolon >/dev/null 2>"$TMP/err"
expect_eq "endpoint without port is a usage error" "$?" 2

stop_bg store
expect "serve-test logged its stop" grep -q "gRPC server stopped" "$TMP/store.log"
done_testing
