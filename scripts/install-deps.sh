#!/usr/bin/env bash
# Installs every build and test dependency of thanosc on Debian 12, as root,
# non-interactive and idempotent. Project-local tools (Prometheus 3.5 from
# Debian's sid suite, s3rver from npm) go under .deps/, which git ignores.
#
#   scripts/install-deps.sh            build and test dependencies
#   THANOSC_DEPS=build scripts/install-deps.sh   build dependencies only
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
deps="$top/.deps"
mode=${THANOSC_DEPS:-all}

build_pkgs=(
  build-essential cmake pkg-config git
  libuv1-dev node-llhttp libprotobuf-c-dev protobuf-c-compiler
  libcurl4-openssl-dev libssl-dev libsnappy-dev libzstd-dev libyaml-dev
  libnghttp2-dev libpcre2-dev libexpat1-dev libxxhash-dev libjansson-dev
  zlib1g-dev
)
test_pkgs=(
  prometheus python3 python3-pytest python3-grpcio python3-grpc-tools
  python3-botocore python3-requests python3-protobuf python3-yaml wrk clang
  libclang-rt-14-dev llvm curl ca-certificates procps chromium
)
# node and npm may come from elsewhere on the machine; Debian's otherwise.
command -v npm >/dev/null 2>&1 || test_pkgs+=(nodejs npm)

want=("${build_pkgs[@]}")
[ "$mode" = build ] || want+=("${test_pkgs[@]}")

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
    missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ "$mode" = build ] && exit 0

# Prometheus 3.5 and promtool from sid, unpacked into .deps/prom3. The mirror
# is the one this machine's own apt sources name; the system's sources and
# package lists stay untouched (a private apt state under .deps/apt).
prom3="$deps/prom3/usr/bin/prometheus"
if [ ! -x "$prom3" ]; then
  mirror=$(grep -hoE '^(URIs:|deb)[[:space:]]+[^[:space:]]+' \
             /etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
             /etc/apt/sources.list.d/*.list 2>/dev/null |
           awk '{print $2}' | grep -v security | head -n 1 || true)
  [ -n "$mirror" ] || { echo "install-deps: no Debian mirror in apt sources" >&2; exit 1; }
  a="$deps/apt"
  mkdir -p "$a/lists/partial" "$a/cache/archives/partial" "$a/etc" "$deps/dl"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror sid main" >"$a/etc/sources.list"
  aopt=(-o Dir::Etc::SourceList="$a/etc/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o Dir::State::Lists="$a/lists" -o Dir::Cache="$a/cache"
        -o Dir::State::Status=/var/lib/dpkg/status -o APT::Get::List-Cleanup=0)
  apt-get "${aopt[@]}" update -qq
  (cd "$deps/dl" && rm -f ./*.deb && apt-get "${aopt[@]}" download prometheus promtool -qq)
  rm -rf "$deps/prom3"
  for d in "$deps"/dl/*.deb; do dpkg -x "$d" "$deps/prom3"; done
  "$prom3" --version | head -n 1
fi

# s3rver from npm, project-local.
if [ ! -x "$deps/node/node_modules/.bin/s3rver" ]; then
  mkdir -p "$deps/node"
  (cd "$deps/node" && { [ -f package.json ] || echo '{"private":true}' >package.json; } &&
   npm install --silent --no-audit --no-fund s3rver@3 >/dev/null)
fi
echo "install-deps: ok"
