#!/usr/bin/env bash
# Fuzzes one target for a number of minutes under ASan + UBSan with libFuzzer.
#
#   tests/fuzz/run.sh <target> <minutes> [libFuzzer options...]
#   tests/fuzz/run.sh fuzz_text_reply 10
#   tests/fuzz/run.sh fuzz_engine_replies 30 -max_len=8192
#
# Targets: fuzz_text_reply, fuzz_binary_reply, fuzz_meta_reply, fuzz_decimal,
# fuzz_engine_replies.
#
# Configures (once) and builds a separate clang build directory with MMC_FUZZ=ON
# (FUZZ_BUILD_DIR, default build-fuzz/), then runs the target seeded with the
# committed corpus tests/fuzz/corpus/<target>/. Inputs the fuzzer finds go to
# <build>/fuzz-work/<target>/corpus/, crashes to <build>/fuzz-work/<target>/artifacts/:
# the committed corpus is only read, never written (README.md says how to add to it).
# Runs under `nice -n ${FUZZ_NICE:-10}`. Exits with libFuzzer's status: non-zero when
# it found a crash.
set -euo pipefail

if [ $# -lt 2 ]; then
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
target=$1
minutes=$2
shift 2
case "$target" in
  fuzz_text_reply|fuzz_binary_reply|fuzz_meta_reply|fuzz_decimal|fuzz_engine_replies) ;;
  *) echo "unknown target: $target" >&2; exit 2 ;;
esac
case "$minutes" in
  ''|*[!0-9]*) echo "minutes must be a whole number: $minutes" >&2; exit 2 ;;
esac

src=$(cd "$(dirname "$0")/../.." && pwd)
build=${FUZZ_BUILD_DIR:-$src/build-fuzz}
corpus=$src/tests/fuzz/corpus/$target
work=$build/fuzz-work/$target

if [ ! -f "$build/CMakeCache.txt" ]; then
  generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  # The module is not needed to fuzz and would need its own sanitizer setup.
  cmake -S "$src" -B "$build" "${generator[@]}" \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMMC_FUZZ=ON -DMMC_BUILD_MODULE=OFF
fi
cmake --build "$build" --target "$target"

mkdir -p "$work/corpus" "$work/artifacts"
# print_stacktrace: UBSan reports without a stack are hard to act on. Leaks stay on.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
# -timeout: an input of fuzz_engine_replies takes well under a second (it stops at its
# first operation that waits out the 20 ms deadline); 30 s is a hang. The first corpus
# directory is the one libFuzzer writes to.
exec nice -n "${FUZZ_NICE:-10}" "$build/tests/fuzz/$target" \
  -max_total_time=$((minutes * 60)) -timeout=30 -print_final_stats=1 \
  -dict="$src/tests/fuzz/memcached.dict" \
  -artifact_prefix="$work/artifacts/" "$@" "$work/corpus" "$corpus"
