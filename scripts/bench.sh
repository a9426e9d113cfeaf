#!/usr/bin/env bash
# Builds mod_memcache with its benchmarks and runs every benchmark of docs/benchmarks.md:
# our engine vs apr-util's apr_memcache vs libmemcached against memcached servers the
# bench starts on loopback (ops/s, latency, CPU, syscalls and instructions per
# operation, thread scaling), then httpd end to end with wrk. About 10 minutes on a
# 2-core machine.
# Missing Debian packages (strace, valgrind, wrk and the build deps) are installed.
#
# Usage: scripts/bench.sh [mmc_bench options ...]
#   e.g. scripts/bench.sh --reps 3 --skip e2e      (mmc_bench --help lists them)
# The report goes to $BUILD_DIR/bench-out/report.md (BUILD_DIR defaults to build-bench).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh strace valgrind wrk

build=${BUILD_DIR:-build-bench}
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
cmake -S . -B "$build" -DMMC_BUILD_BENCH=ON >/dev/null
cmake --build "$build" -j "$(nproc)" --target mmc_bench mmc_lease_bench

for arg in "$@"; do
  case "$arg" in
    -h|--help) exec "$build/tests/bench/mmc_bench" --help ;;
  esac
done

out="$build/bench-out"
mkdir -p "$out"

load() { cut -d' ' -f1-3 /proc/loadavg; }
first_line() { "$@" 2>&1 | head -n1 || true; }

start_load=$(load)
if awk -v l="${start_load%% *}" 'BEGIN { exit !(l > 0.5) }'; then
  echo "warning: load average is $start_load before the run; other work on this machine" \
       "will show in the numbers (see the top CPU users in the report)" >&2
fi
# Processes using 5% of a core or more, over half a second (top's second frame).
busy() {
  top -b -n2 -d0.5 -w 200 -o %CPU |
    awk '/^top -/ { n++ } n == 2 && $1 ~ /^[0-9]+$/ && $9 + 0 >= 5 { printf "%s %s%%; ", $12, $9 }'
}
top_before=$(busy)

# CPU used by processes outside this script's session (everything the bench starts,
# memcached and httpd included, stays in it) while the bench runs: the share of the
# machine that other work took. Sampled every second from /proc.
other_cpu_monitor() {
  local sid=$1 stop=$2
  local -A last=() total=()
  local pid ses comm ticks
  while [ ! -e "$stop" ]; do
    while read -r pid ses comm ticks; do
      [ "$ses" = "$sid" ] && continue
      if [ -n "${last[$pid]:-}" ] && [ "$ticks" -ge "${last[$pid]}" ]; then
        total[$comm]=$(( ${total[$comm]:-0} + ticks - last[$pid] ))
      fi
      last[$pid]=$ticks
    done < <(awk '{ r = match($0, /\) [A-Za-z] /); if (!r) next;
                    c = substr($0, index($0, "(") + 1, r - index($0, "(") - 1); gsub(/ /, "_", c);
                    split(substr($0, r + 2), f, " ");
                    print $1, f[4], c, f[12] + f[13] }' /proc/[0-9]*/stat 2>/dev/null)
    sleep 1
  done
  for comm in "${!total[@]}"; do echo "${total[$comm]} $comm"; done | sort -rn
}
hz=$(getconf CLK_TCK)
stop_file=$(mktemp -u)
other_cpu_monitor "$(ps -o sid= $$ | tr -d ' ')" "$stop_file" >"$out/other-cpu.txt" &
monitor=$!
started=$(date +%s)

rc=0
"$build/tests/bench/mmc_bench" --out-dir "$out" --report "$out/results.md" "$@" >/dev/null || rc=$?
# The thundering herd: recomputations of a hot key per expiry, text get/set against the
# meta protocol's lease get (docs/benchmarks.md).
{
  echo
  echo "### Thundering herd: recomputations per expiry"
  echo
  "$build/tests/bench/mmc_lease_bench"
} >"$out/lease.md" 2>&1 || rc=$?

touch "$stop_file"
wait "$monitor" || true
rm -f "$stop_file"
elapsed=$(( $(date +%s) - started ))
other_ticks=$(awk '{ s += $1 } END { print s + 0 }' "$out/other-cpu.txt")
other_top=$(head -n 3 "$out/other-cpu.txt" |
            awk -v hz="$hz" '$1 > 0 { printf "%s %.1f s; ", $2, $1 / hz }')
other=$(awk -v t="$other_ticks" -v hz="$hz" -v e="$elapsed" \
          'BEGIN { printf "%.1f CPU-seconds in %d s (%.0f%% of one core)", t / hz, e, e ? 100 * t / hz / e : 0 }')

{
  echo "# mod_memcache benchmark report"
  echo
  echo "## Machine"
  echo
  echo "| | |"
  echo "|---|---|"
  echo "| date | $(date -u '+%Y-%m-%d %H:%M UTC') |"
  echo "| CPU | $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores |"
  echo "| memory | $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) |"
  echo "| OS | Debian $(cat /etc/debian_version 2>/dev/null || echo '?'), kernel $(uname -r) |"
  echo "| compiler | $(first_line "${CXX:-c++}" --version) |"
  echo "| memcached | $(first_line memcached -V) |"
  echo "| httpd | $(first_line /usr/sbin/apache2 -v | sed 's/Server version: //') |"
  echo "| apr-util | $(pkg-config --modversion apr-util-1) |"
  echo "| libmemcached | $(pkg-config --modversion libmemcached) |"
  echo "| wrk / strace / valgrind | $(first_line wrk -v | cut -d' ' -f1-2) / $(first_line strace -V | awk '{print $NF}') / $(first_line valgrind --version) |"
  echo "| load average (1, 5, 15 min) | at start $start_load; at end $(load) (the bench's own threads count in it) |"
  echo "| processes using ≥ 5% CPU just before the run | ${top_before:-none} |"
  echo "| CPU used by other processes during the run | $other${other_top:+; most: $other_top} |"
  echo "| command | \`scripts/bench.sh $*\` |"
  echo
  cat "$out/results.md"
  cat "$out/lease.md"
} >"$out/report.md"

cat "$out/report.md"
echo
echo "report: $out/report.md (callgrind and strace files beside it)" >&2
exit "$rc"
