#!/usr/bin/env bash
# Builds mod_memcache and runs the whole test suite: unit, live (real memcached) and
# httpd (real apache2 with prefork, worker and event MPMs). Every server a test needs is
# started by that test on a free loopback port and stopped by PID.
# Usage: scripts/test.sh [--sanitize | --tsan] [ctest arguments ...]   e.g. scripts/test.sh -L unit
# Without -L/-LE/-R/-E, the plain run leaves out the long and soak labels (see below).
#
#   --sanitize  build with ASan + UBSan in build-asan/ and run the unit, live and long
#               labels (long holds only live scenarios there)
#   --tsan      build with ThreadSanitizer in build-tsan/ and run the same labels
#
# The sanitizer runs leave out the httpd label: those tests load the module into the
# system apache2, which is not built with a sanitizer and cannot load a sanitized module.
# docs/testing.md says more.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=plain
args=()
for a in "$@"; do
  case "$a" in
    --sanitize) mode=asan ;;
    --tsan) mode=tsan ;;
    *) args+=("$a") ;;
  esac
done
set -- ${args[@]+"${args[@]}"}

scripts/install-deps.sh

# ccache keys relative to the tree and not to the build directory, so that the package
# build (install.debian_packages) reuses the objects of the test build.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$(pwd)} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)

if [ "$mode" = plain ]; then
  build=${BUILD_DIR:-build}
  if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo
  fi
  cmake --build "$build" -j "$(nproc)"

  # Label long (about three minutes: the one-minute fault soak, the bench's callgrind
  # smoke pass, scenarios that wait seconds by design) runs in CI and when asked for:
  # scripts/test.sh -L long. The longer fault soak (label soak, about 100 s) runs only
  # when asked for: scripts/test.sh -L soak.
  select=(-LE '^(long|soak)$')
  for arg in "$@"; do
    case "$arg" in -L|-LE|-R|-E|--label-regex*|--label-exclude*|--tests-regex*|--exclude-regex*) select=() ;; esac
  done
  # Timing-sensitive live tests (deadlines checked to 100 ms) run two at a time at most.
  ctest --test-dir "$build" --output-on-failure -j 2 --timeout 120 "${select[@]}" "$@"
  exit 0
fi

src=$(pwd)
if [ "$mode" = asan ]; then
  build=${BUILD_DIR:-build-asan}
  sanitize="address;undefined"
  # Every report stops the process (UBSan is also built with -fno-sanitize-recover), with
  # a stack. Leaks are checked; the suppressions name only leaks outside our code.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:check_initialization_order=1:strict_init_order=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
  export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$src/tests/sanitizers/lsan.supp:print_suppressions=0}
else
  build=${BUILD_DIR:-build-tsan}
  sanitize="thread"
  # Every race is reported (not only the first) and the process then exits non-zero.
  export TSAN_OPTIONS=${TSAN_OPTIONS:-second_deadlock_stack=1:history_size=4}
fi

# The cache variables are given on every run so that a build directory configured
# otherwise cannot pass for a sanitizer build. No module (nothing here may load it) and
# no benchmarks (a sanitized benchmark measures nothing).
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMMC_SANITIZE="$sanitize" -DMMC_BUILD_MODULE=OFF -DMMC_BUILD_BENCH=OFF
# The test programs run once at build time to list their tests, under the options above.
cmake --build "$build" -j "$(nproc)"

# The binary and meta variants of the live suites whose code does not depend on the
# protocol (pools, deadlines, failures, threads, server lifecycle, unreachable hosts,
# memory, key placement) run in the text variant only: the protocol-specific code they
# would add is the codecs', which the other suites' binary and meta variants, the TLS
# variants and the unit tests put through every path (docs/testing.md).
ctest --test-dir "$build" --output-on-failure -j 2 --timeout 120 -L 'unit|live|long' \
  -E '^(Pool|Failures|Deadlines|Threads|ServerLifecycle|UnreachableHost|Memory|Distribution)\..*\.(binary|meta)$' "$@"
