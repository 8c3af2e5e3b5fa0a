#!/usr/bin/env bash
# Installs what canaryd needs to build and test on Debian 12, and only what is missing.
# Used by the README quickstart, by .ci/run and by the Dockerfile. Run as root.
# --tests adds what only the test suite needs: Chromium, Node.js (unless npm is already on
# the PATH) and the browser test's puppeteer-core (npm ci from its lock file).
set -euo pipefail
cd "$(dirname "$0")/.."

with_tests=false
for argument in "$@"; do
  case "$argument" in
    --tests) with_tests=true ;;
    *) echo "install-deps: unknown argument $argument (only --tests)" >&2; exit 2 ;;
  esac
done

packages=(
  g++ cmake make pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libyaml-cpp-dev prometheus-cpp-dev doctest-dev libnghttp2-dev
  curl ca-certificates
  etcd-server prometheus   # fleet mode (SPEC §9): its tests start a real etcd and Prometheus
)
if $with_tests; then
  packages+=(chromium)   # the dashboard's real-browser test (tests/browser)
  packages+=(nghttp2-client python3-h2 python3-grpcio)  # HTTP/2 and gRPC tests: h2load, raw frames, grpcio
  if ! command -v npm >/dev/null 2>&1; then packages+=(nodejs npm); fi
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: every package is already installed"
else
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -q
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if $with_tests && [ ! -d tests/browser/node_modules/puppeteer-core ]; then
  echo "install-deps: npm ci in tests/browser (puppeteer-core, which drives the system Chromium)"
  # The system Chromium is the browser: never download one.
  PUPPETEER_SKIP_DOWNLOAD=1 npm ci --prefix tests/browser --no-audit --no-fund
fi
