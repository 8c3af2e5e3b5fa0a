#!/usr/bin/env bash
# canaryd vs HAProxy vs NGINX, side by side, in one command (run as root on Debian 12):
#   bash bench/compare.sh [--rounds 3] [--duration 10] [--idle-connections 9000]
# Installs what is missing (build deps, haproxy, nginx-light, wrk, python3), builds a
# Release canaryd, then runs bench/compare.py. Raw figures: bench/results/compare.json.
set -euo pipefail
cd "$(dirname "$0")/.."

bash docker/install-deps.sh
missing=()
for p in haproxy nginx-light wrk python3; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# Debian starts the packaged services; the benchmark runs its own instances.
systemctl stop nginx haproxy 2>/dev/null || service nginx stop 2>/dev/null || true
service haproxy stop 2>/dev/null || true

cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DCANARYD_BUILD_TESTS=OFF > /dev/null
cmake --build build-release -j"$(nproc)" --target canaryd stream_rss
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
exec /usr/bin/env python3 bench/compare.py --canaryd build-release/canaryd \
  --stream-rss build-release/bench/stream_rss "$@"
