# test-lib.sh - shared shell for test/integration/tNNNN-*.sh (git's t/).
#
# Source it, then write cases:
#
#   . "$(dirname "$0")/test-lib.sh"
#   port=$(free_port)
#   start_bg store "$THANOSC" store --grpc-address=127.0.0.1:$port ...
#   wait_http "http://127.0.0.1:$hport/-/ready"
#   expect "ready answers 200" curl -fsS "http://127.0.0.1:$hport/-/ready"
#   done_testing
#
# Every process started with start_bg is stopped by its pid on exit. Output
# is TAP; the last line is "<name>: N passed, M failed".
set -u
TOP=${THANOSC_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD=${THANOSC_BUILD:-$TOP/build}
THANOSC=${THANOSC:-$BUILD/thanosc}
PROM2=/usr/bin/prometheus
PROMTOOL2=/usr/bin/promtool
PROM3=$TOP/.deps/prom3/usr/bin/prometheus
PROMTOOL3=$TOP/.deps/prom3/usr/bin/promtool
S3RVER=$TOP/.deps/node/node_modules/.bin/s3rver
PYTHON=/usr/bin/python3
TEST_NAME=$(basename "$0" .sh)
TMP=$(mktemp -d "/tmp/thanosc-$TEST_NAME-XXXXXX")
_pass=0 _fail=0 _pids=()

_cleanup() {
  local p
  for p in "${_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"
}
trap _cleanup EXIT

ok() { _pass=$((_pass + 1)); echo "ok $((_pass + _fail)) - $*"; }
not_ok() { _fail=$((_fail + 1)); echo "not ok $((_pass + _fail)) - $*"; }
# expect "what" cmd...: passes when cmd exits 0.
expect() { local d=$1; shift; if "$@" >"$TMP/.out" 2>&1; then ok "$d"; else not_ok "$d"; sed 's/^/# /' "$TMP/.out"; fi; }
# expect_fail "what" cmd...: passes when cmd exits non-zero.
expect_fail() { local d=$1; shift; if "$@" >"$TMP/.out" 2>&1; then not_ok "$d"; sed 's/^/# /' "$TMP/.out"; else ok "$d"; fi; }
# expect_eq "what" actual expected
expect_eq() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1"; echo "# got:      $2"; echo "# expected: $3"; fi; }
skip() { echo "ok $((_pass + _fail + 1)) - $* # SKIP"; _pass=$((_pass + 1)); }

# A free TCP port on 127.0.0.1.
free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_bg NAME cmd...: runs cmd in the background, logs to $TMP/NAME.log,
# and records its pid (in the variable pid_NAME too).
start_bg() {
  local name=$1; shift
  "$@" >"$TMP/$name.log" 2>&1 &
  local p=$!
  _pids+=("$p")
  eval "pid_${name//-/_}=$p"
}

# stop_bg NAME [SIG]: stops a process started by start_bg, waits for it.
stop_bg() {
  local v="pid_${1//-/_}"; local p=${!v}
  kill -"${2:-TERM}" "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}

# wait_http URL [SECONDS]: until URL answers 2xx.
wait_http() {
  local url=$1 t=${2:-30} i
  for ((i = 0; i < t * 10; i++)); do
    curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "# timed out waiting for $url"; return 1
}

# wait_port PORT [SECONDS]: until something listens on 127.0.0.1:PORT.
wait_port() {
  local port=$1 t=${2:-30} i
  for ((i = 0; i < t * 10; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "# timed out waiting for port $port"; return 1
}

done_testing() {
  echo "1..$((_pass + _fail))"
  echo "$TEST_NAME: $_pass passed, $_fail failed"
  [ "$_fail" -eq 0 ]
}

# ---- headless Chromium, for the UI tests ----

# use_chromium: sets CHROMIUM and makes $shots (where screenshots go:
# $UI_SCREENSHOT_DIR, else $TMP), or skips the whole test without it.
use_chromium() {
  CHROMIUM=${CHROMIUM:-$(command -v chromium || true)}
  if [ -z "$CHROMIUM" ]; then
    skip "chromium is not installed (scripts/install-deps.sh)"
    done_testing
    exit
  fi
  shots=${UI_SCREENSHOT_DIR:-$TMP}
  mkdir -p "$shots"
}
# chrome ARGS... URL: one bounded headless run with a profile of its own.
chrome() {
  local prof
  prof=$(mktemp -d "$TMP/chrome-XXXXXX")
  timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
    --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --user-data-dir="$prof" \
    --virtual-time-budget=5000 --window-size=1280,860 "$@" \
    2>>"$TMP/chromium.log"
}
# dom NAME URL: the DOM once the page's scripts ran, in $TMP/NAME.html.
dom() { chrome --dump-dom "$2" >"$TMP/$1.html"; }
# has / lacks NAME TEXT, hasre NAME REGEX: about $TMP/NAME.html.
has() {
  grep -qF -- "$2" "$TMP/$1.html" || { echo "# $1.html lacks: $2"; return 1; }
}
lacks() {
  ! grep -qF -- "$2" "$TMP/$1.html" || { echo "# $1.html has: $2"; return 1; }
}
hasre() {
  grep -qE -- "$2" "$TMP/$1.html" || { echo "# $1.html lacks /$2/"; return 1; }
}
# png FILE: a non-empty PNG.
png() {
  [ -s "$1" ] &&
    [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]
}
