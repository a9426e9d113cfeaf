#!/usr/bin/env bash
# Builds mod_memcache and runs the whole test suite: unit, live (real memcached) and
# httpd (real apache2 with prefork, worker and event MPMs). Every server a test needs is
# started by that test on a free loopback port and stopped by PID.
# Usage: scripts/test.sh [ctest arguments ...]   e.g. scripts/test.sh -L unit
# Without -L/-LE/-R/-E, the soak label is left out (see below).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

build=${BUILD_DIR:-build}
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
cmake --build "$build" -j "$(nproc)"

# The longer fault soak (label soak, about 100 s) runs only when asked for, e.g.
# scripts/test.sh -L soak; the one-minute soak.smoke is part of every run.
select=(-LE '^soak$')
for arg in "$@"; do
  case "$arg" in -L|-LE|-R|-E|--label-regex*|--label-exclude*|--tests-regex*|--exclude-regex*) select=() ;; esac
done
# Timing-sensitive live tests (deadlines checked to 100 ms) run two at a time at most.
ctest --test-dir "$build" --output-on-failure -j 2 --timeout 120 "${select[@]}" "$@"
