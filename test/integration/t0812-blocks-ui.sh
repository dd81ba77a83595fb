#!/usr/bin/env bash
# t0812-blocks-ui: the block viewer page (web/blocks.html, static/blocks.js)
# in headless Chromium, against blocks_stub.py, a stand-in server with
# canned api/v1/blocks answers: two clusters and a label set without the
# title label, raw/5m/1h, levels 1-3, overlapping blocks in one row. Loads
# /global, /loaded, /blocks, a route prefix, a URL hash that opens a
# block's details, the query-string filter, a failed refresh (err), an
# HTTP 500, a body that is not JSON and an empty list; reads the DOM.
# Then the same page as `thanosc tools bucket web` serves it.
# A screenshot lands in $TMP (or $UI_SCREENSHOT_DIR when set).
. "$(dirname "$0")/test-lib.sh"

use_chromium
# nblocks NAME: how many block boxes NAME.html has.
nblocks() { grep -oE '<div class="block[ "]' "$TMP/$1.html" | wc -l; }
# block NAME ULID: that block's class/ulid/level/style attributes.
block() {
  grep -oE "class=\"block[^\"]*\" data-ulid=\"$2\" data-level=\"[0-9]+\" \
style=\"[^\"]*\"" "$TMP/$1.html"
}
# last: the path and query of the stub's last api/v1/blocks request.
last() { curl -fsS "$s/_last"; }

A1=01JDBV0E0000000000000000A1 A2=01JDBV0E0000000000000000A2
A3=01JDBV0E0000000000000000A3 B1=01JDBV0E0000000000000000B1
C1=01JDBV0E0000000000000000C1 C2=01JDBV0E0000000000000000C2
D1=01JDBV0E0000000000000000D1
ALL="$A1 $A2 $A3 $B1 $C1 $C2 $D1"

port=$(free_port)
s=http://127.0.0.1:$port
start_bg stub "$PYTHON" "$TOP/test/integration/blocks_stub.py" "$port" \
  "$TOP/web"
wait_http "$s/_last" 20

# /global: every block, rows titled by the "cluster" label, the axis.
dom global "$s/global"
expect "global: view named" has global '<span id="view">global</span>'
expect "global: its nav link marked" has global \
  'id="nav-global" class="active"'
expect_eq "global: the API asked for view=global" "$(last)" \
  "/api/v1/blocks?view=global"
for u in $ALL; do
  expect "global: block $u drawn" block global "$u"
done
expect_eq "global: seven block boxes" "$(nblocks global)" 7
expect "global: row east raw" has global \
  '<div class="row" data-title="east" data-resolution="raw">'
expect "global: row east 5m" has global \
  '<div class="row" data-title="east" data-resolution="5m">'
expect "global: row west raw" has global \
  '<div class="row" data-title="west" data-resolution="raw">'
expect "global: no cluster label, titled by the label set" has global \
  'data-title="{region=&quot;eu&quot;}" data-resolution="1h"'
expect "global: the row's label set shown" has global \
  '<div class="ls">{cluster="east", replica="r0"}</div>'
expect "global: refreshed at" has global \
  'Refreshed at 2026-11-24T07:45:11.104Z'
expect "global: UTC time ticks" has global \
  'data-time="2026-11-23T02:00:00.000Z">11-23 02:00</span>'
expect "global: shaded by level" sh -c \
  "grep -qF 'class=\"block level-3\" data-ulid=\"$A3\"' '$TMP/global.html' &&
   grep -qF 'class=\"block level-1\" data-ulid=\"$A1\"' '$TMP/global.html'"
# A3 spans A1 and A2: one lane for it, another for them.
lane() { block global "$1" | sed -n 's/.*top:\([0-9]*\)px.*/\1/p'; }
expect "global: overlapping blocks on separate lanes" test \
  "$(lane "$A3")" != "$(lane "$A1")"
expect_eq "global: adjacent blocks share a lane" "$(lane "$A1")" \
  "$(lane "$A2")"
expect "global: A2 starts a quarter in" hasre global \
  "data-ulid=\"$A2\" data-level=\"1\" style=\"left:25%;width:25%;"
expect "global: no error" has global \
  'id="error" class="alert error" role="alert" hidden=""'
expect "global: no refresh error" has global \
  'id="refresh-error" class="alert warning" role="status" hidden=""'
expect "global: no details open" has global \
  'id="details" aria-live="polite" hidden=""'

# /loaded and /blocks pick their views from the path.
dom loaded "$s/loaded"
expect "loaded: view named" has loaded '<span id="view">loaded</span>'
expect_eq "loaded: the API asked for view=loaded" "$(last)" \
  "/api/v1/blocks?view=loaded"
expect "loaded: its nav link marked" has loaded \
  'id="nav-loaded" class="active"'
expect_eq "loaded: blocks drawn" "$(nblocks loaded)" 7
dom blocks "$s/blocks"
expect "blocks: the global view" has blocks '<span id="view">global</span>'
expect_eq "blocks: the API asked for view=global" "$(last)" \
  "/api/v1/blocks?view=global"

# Under a route prefix, with a hash that opens a block's details.
dom prefix "$s/thanos/global#$A1"
expect_eq "prefix: the API under the prefix" "$(last)" \
  "/thanos/api/v1/blocks?view=global"
expect_eq "prefix: blocks drawn" "$(nblocks prefix)" 7
expect "prefix: details open" has prefix \
  'id="details" aria-live="polite"><div'
expect "details: ULID" has prefix "<dd data-field=\"ulid\">$A1</dd>"
expect "details: series" has prefix '<dd data-field="series">4711</dd>'
expect "details: ISO start" has prefix \
  '<dd data-field="start">2026-11-23T00:00:00.000Z</dd>'
expect "details: ISO end" has prefix \
  '<dd data-field="end">2026-11-23T02:00:00.000Z</dd>'
expect "details: duration" has prefix '<dd data-field="duration">2h</dd>'
expect "details: label set" has prefix \
  '<dd data-field="labels">{cluster="east", replica="r0"}</dd>'
expect "details: size of files" has prefix \
  '<dd data-field="size">3.0 MiB (3149824 bytes) in 3 files</dd>'
expect "details: the block is marked selected" has prefix \
  "class=\"block level-1 selected\" data-ulid=\"$A1\""
dom parents "$s/global#$A3"
expect "details: parents" has parents \
  "<dd data-field=\"parents\">${A1%A1}P1, ${A1%A1}P2</dd>"
expect "details: level and sources" sh -c \
  "grep -qF '<dd data-field=\"level\">3</dd>' '$TMP/parents.html' &&
   grep -qF '<dd data-field=\"sources\">4</dd>' '$TMP/parents.html'"
dom nofiles "$s/global#$C1"
expect "details: a meta without files" has nofiles \
  "<dd data-field=\"ulid\">$C1</dd>"
expect "details: no size without files" lacks nofiles 'data-field="size"'
dom res "$s/global#$B1"
expect "details: 5m resolution" has res \
  '<dd data-field="resolution">5m</dd>'

# The filter, preset from the query string.
dom west "$s/global?filter=WEST"
expect_eq "filter: only the west row's blocks" "$(nblocks west)" 2
expect "filter: west kept" block west "$C2"
expect "filter: east gone" lacks west 'data-title="east"'
dom region "$s/global?filter=region=%22eu"
expect_eq "filter: matches the label set" "$(nblocks region)" 1
dom nol1 "$s/global?hide-l1=1"
expect_eq "hide level 1: four blocks left" "$(nblocks nol1)" 4
expect "hide level 1: A1 gone" lacks nol1 "data-ulid=\"$A1\""
dom nomatch "$s/global?filter=nosuchcluster"
expect "filter: nothing matches, said so" has nomatch 'id="no-match"'

# A failed refresh: the message, and the blocks still listed.
dom errstr "$s/errstr/global"
expect "err: shown" has errstr \
  'role="status">Last refresh failed: iter bucket: context deadline exceeded'
expect_eq "err: blocks still drawn" "$(nblocks errstr)" 7

# The API itself failing, or not speaking JSON.
dom fail "$s/fail/global"
expect "HTTP 500: error shown" has fail \
  'role="alert">Error loading blocks: HTTP 500: internal: bucket unreachable'
expect_eq "HTTP 500: no blocks" "$(nblocks fail)" 0
expect "HTTP 500: the timeline panel hidden" has fail \
  'id="timeline-panel" hidden=""'
dom bad "$s/bad/loaded"
expect "bad JSON: error shown" has bad \
  'role="alert">Error loading blocks: HTTP 200, not JSON: &lt;html&gt;oops'
dom empty "$s/empty/global"
expect "empty: said so" has empty 'id="no-blocks"'
expect "empty: no error" has empty 'role="alert" hidden=""'

chrome --screenshot="$shots/t0812-blocks.png" \
  "$s/errstr/global#$A3" >/dev/null
expect "screenshot taken" png "$shots/t0812-blocks.png"

# The page as `thanosc tools bucket web` serves it, over a bucket of one
# block written by the test tool.
"$BUILD/test/test-tool" gen-block "$TMP/bkt" --series=3 --samples=10 \
  --labels=2 >"$TMP/gen.out"
ulid=$(basename "$(cat "$TMP/gen.out")")
printf 'type: FILESYSTEM\nconfig:\n  directory: %s\n' "$TMP/bkt" \
  >"$TMP/bkt.yml"
wport=$(free_port)
start_bg web "$THANOSC" tools bucket web --objstore.config-file="$TMP/bkt.yml" \
  --http-address=127.0.0.1:$wport --label=cluster
wait_http "http://127.0.0.1:$wport/-/ready"
dom real "http://127.0.0.1:$wport/blocks#$ulid"
expect "bucket web: the block on the time line" has real "data-ulid=\"$ulid\""
expect "bucket web: its details open" has real "data-field=\"ulid\">$ulid"

done_testing
