#!/usr/bin/env bash
# t0450-query-ui: the querier's web UI in headless Chromium. Prometheus 2.42
# scrapes itself (external label prometheus="p1"), thanosc sidecar serves
# it, and thanosc query (one at /, one under --web.route-prefix) answers
# the pages. Checks the routes and asset headers with curl, then loads
# pages with URL state (g0.expr, g0.tab) and reads the rendered DOM: the
# table, the SVG graph and its legend, the stores list, and an API error.
# Screenshots land in $TMP (or $UI_SCREENSHOT_DIR when set).
. "$(dirname "$0")/test-lib.sh"

use_chromium

pport=$(free_port) sgrpc=$(free_port) shttp=$(free_port)
qhttp=$(free_port) qgrpc=$(free_port) q2http=$(free_port) q2grpc=$(free_port)
cat >"$TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  external_labels:
    prometheus: p1
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ['127.0.0.1:$pport']
EOF
start_bg prometheus "$PROM2" --config.file="$TMP/prometheus.yml" \
  --storage.tsdb.path="$TMP/prom" --web.listen-address=127.0.0.1:$pport
wait_http "http://127.0.0.1:$pport/-/ready"
start_bg sidecar "$THANOSC" sidecar --prometheus.url=http://127.0.0.1:$pport \
  --tsdb.path="$TMP/prom" --grpc-address=127.0.0.1:$sgrpc \
  --http-address=127.0.0.1:$shttp
wait_port "$sgrpc"
start_bg query "$THANOSC" query --http-address=127.0.0.1:$qhttp \
  --grpc-address=127.0.0.1:$qgrpc --endpoint=127.0.0.1:$sgrpc \
  --query.replica-label=prometheus
start_bg query2 "$THANOSC" query --http-address=127.0.0.1:$q2http \
  --grpc-address=127.0.0.1:$q2grpc --web.route-prefix=/thanos
q=http://127.0.0.1:$qhttp
wait_http "$q/-/ready"
wait_http "http://127.0.0.1:$q2http/-/ready"
# Until the sidecar is healthy and Prometheus has a few scrapes of "up".
for _ in $(seq 100); do
  curl -fsS "$q/api/v1/query_range?query=up&start=$(($(date +%s) - 60))&end=$(date +%s)&step=1" 2>/dev/null |
    grep -q '"values":\[\[[^]]*\],\[[^]]*\],\[' && break
  sleep 0.2
done

# Routes and headers.
expect_eq "/ redirects to /graph" \
  "$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$q/")" "302 $q/graph"
expect "/graph is the HTML page" sh -c \
  "curl -fsSi '$q/graph' | grep -qi '^content-type: text/html'"
curl -fsSi "$q/static/app.js" >"$TMP/app.head"
expect "app.js is JavaScript with an ETag" sh -c \
  "grep -qi '^content-type: text/javascript' '$TMP/app.head' && grep -qi '^etag: \"' '$TMP/app.head'"
etag=$(sed -n 's/^[Ee][Tt]ag: *\(.*\)\r$/\1/p' "$TMP/app.head")
expect_eq "If-None-Match answers 304" \
  "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$q/static/app.js")" 304
expect_eq "If-None-Match with a list answers 304" \
  "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: \"0\", $etag" "$q/static/app.js")" 304
expect_eq "a stale ETag gets the asset" \
  "$(curl -s -o /dev/null -w '%{http_code}' -H 'If-None-Match: "0"' "$q/static/app.js")" 200
expect "HEAD of an asset" sh -c "curl -fsSI '$q/static/app.js' | grep -qi '^etag:'"
expect "assets are gzip-encoded when accepted" sh -c \
  "curl -fsS -D - -o /dev/null -H 'Accept-Encoding: gzip' '$q/static/app.js' | grep -qi '^content-encoding: gzip'"
expect_eq "no way out of static/" \
  "$(curl -s --path-as-is -o /dev/null -w '%{http_code}' "$q/static/../index.html")" 404
expect "style.css is CSS" sh -c \
  "curl -fsSi '$q/static/style.css' | grep -qi '^content-type: text/css'"
expect_eq "unknown asset is 404" \
  "$(curl -s -o /dev/null -w '%{http_code}' "$q/static/nope.js")" 404
expect_eq "prefix: /thanos/ redirects to /thanos/graph" \
  "$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$q2http/thanos/")" \
  "302 http://127.0.0.1:$q2http/thanos/graph"

# Table tab: up from the sidecar, labels rendered; the replica label
# (prometheus) shows only without deduplication.
dom table "$q/graph?g0.expr=up&g0.tab=1&g0.deduplicate=0"
expect "table: result table rendered" has table 'id="result-table"'
expect "table: series labels rendered" has table '<span class="ln">job</span>=<span class="lv">"prometheus"</span>'
expect "table: external label from the sidecar" has table '<span class="lv">"p1"</span>'
expect "table: no error" lacks table 'class="alert error"'
dom dedup "$q/graph?g0.expr=up&g0.tab=1&g0.deduplicate=1"
expect "table: deduplication drops the replica label" lacks dedup '"p1"'
expect "table: deduplicated series still shown" has dedup '<span class="lv">"prometheus"</span>'
dom scalar "$q/graph?g0.expr=1%2B1&g0.tab=1"
expect "table: scalar 1+1 is 2" has scalar '<td class="value">2</td>'
dom vec "$q/graph?g0.expr=vector(1)&g0.tab=table"
expect "table: vector(1) is {} 1" has vec '<td class="value">1</td>'

# Several panels in one URL (g0, g1), as Prometheus links them.
dom multi "$q/graph?g0.expr=vector(3)&g0.tab=1&g1.expr=vector(4)&g1.tab=1&g1.deduplicate=0"
expect "panels: first panel's table" has multi 'id="result-table"'
expect "panels: second panel's table" has multi 'id="result-table-1"'
expect "panels: both results" sh -c \
  "grep -qF '<td class=\"value\">3</td>' '$TMP/multi.html' && grep -qF '<td class=\"value\">4</td>' '$TMP/multi.html'"
expect "panels: add-panel button" has multi 'id="add-panel"'

# Graph tab: an SVG with one line per series and a legend.
dom graph "$q/graph?g0.expr=up&g0.tab=0&g0.range_input=5m&g0.deduplicate=0"
expect "graph: SVG drawn" has graph 'id="graph-svg"'
expect "graph: a line path" has graph '<path class="line"'
expect "graph: legend lists the series" sh -c \
  "grep -o '<ul class=\"legend\".*</ul>' '$TMP/graph.html' | grep -qF '\"p1\"'"
expect "graph: time axis labels" sh -c \
  "grep -qE '<text x=\"[0-9.]+\" y=\"[0-9.]+\" text-anchor=\"middle\">[0-9]{2}:[0-9]{2}' '$TMP/graph.html'"
chrome --screenshot="$shots/t0450-graph.png" \
  "$q/graph?g0.expr=rate(prometheus_http_requests_total%5B30s%5D)&g0.tab=0&g0.range_input=5m" >/dev/null
expect "graph: screenshot taken" png "$shots/t0450-graph.png"

# Errors from the API, shown as errorType and error.
dom bad "$q/graph?g0.expr=sum(rate(up%5B5m%5D)&g0.tab=1"
expect "error: errorType shown" has bad 'bad_data'
expect "error: parse error shown" has bad 'parse error'
expect "error: in an error box" has bad 'class="alert error"'

# Stores page.
dom stores "$q/stores"
expect "stores: sidecar group" has stores '<h2>sidecar</h2>'
expect "stores: endpoint listed" has stores "127.0.0.1:$sgrpc"
expect "stores: healthy" has stores '<span class="badge up">Up</span>'
expect "stores: label set" has stores 'prometheus="p1"'
chrome --screenshot="$shots/t0450-stores.png" "$q/stores" >/dev/null
expect "stores: screenshot taken" png "$shots/t0450-stores.png"

# Under --web.route-prefix, relative URLs reach the prefixed API.
dom prefixed "http://127.0.0.1:$q2http/thanos/graph?g0.expr=vector(7)&g0.tab=1"
expect "prefix: query answered" has prefixed '<td class="value">7</td>'
dom prefstores "http://127.0.0.1:$q2http/thanos/stores"
expect "prefix: stores page renders" has prefstores 'id="no-stores"'
expect_eq "prefix: /thanos redirects to /thanos/graph" \
  "$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$q2http/thanos")" \
  "302 http://127.0.0.1:$q2http/thanos/graph"

# Partial response: with Prometheus gone the sidecar's Series fails; the
# page shows the API's warning when partial response is on, its error
# when off.
stop_bg prometheus
dom warn "$q/graph?g0.expr=up&g0.tab=1&g0.partial_response=1"
expect "partial response: warning shown" has warn 'class="alert warning"'
expect "partial response: no error" lacks warn 'class="alert error"'
expect "partial response: the store's failure named" has warn 'Warning: fetch series for'
dom nopartial "$q/graph?g0.expr=up&g0.tab=1&g0.partial_response=0"
expect "no partial response: error shown" has nopartial 'class="alert error"'
expect "no partial response: the store's failure named" has nopartial 'fetch series for'

# A store that went away: the stores page shows it down, with its error.
stop_bg sidecar
for _ in $(seq 150); do
  curl -fsS "$q/api/v1/stores" | grep -q '"lastError":"' && break
  sleep 0.2
done
dom down "$q/stores"
expect "stores: a lost endpoint is down" has down '<span class="badge down">Down</span>'
expect "stores: its last error shown" has down 'class="store-error"'
chrome --screenshot="$shots/t0450-stores-down.png" "$q/stores" >/dev/null
expect "stores: screenshot of the down endpoint" png "$shots/t0450-stores-down.png"

done_testing
