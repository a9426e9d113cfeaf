#!/usr/bin/env bash
# Installs the Debian packages mod_memcache needs to build and test, if any is missing.
# Usage: scripts/install-deps.sh [extra-package ...]
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  apache2 apache2-dev libapr1-dev libaprutil1-dev
  googletest libgtest-dev
  memcached curl binutils
  libmemcached-dev
  valgrind strace wrk
  python3 dpkg-dev fakeroot lintian
  openssl libssl-dev
  sasl2-bin
  # nginx: the memcache-pass tests and benchmark compare httpd with its memcached_pass
  nginx
  # promtool checks the memcache-metrics handler's output (httpd.metrics)
  prometheus
  # Python's Prometheus parser reads it too (httpd.metrics, with /usr/bin/python3)
  python3-prometheus-client
  # headless browser that renders the status page's metrics section (httpd.metrics)
  chromium
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "Installing missing Debian packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
# The apache2 package may start a system-wide server on port 80; the project's tests
# and demo never use it, so it is left as the package set it up.
