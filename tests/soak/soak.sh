#!/usr/bin/env bash
# Fault soak: a real apache2 with mod_memcache and the example module serves
# /mc?op=getset (a get and a set per request) under wrk load while memcached servers are
# killed and restarted on their port, stopped and continued, and httpd is restarted
# gracefully, over and over. Then it checks, from httpd's access and error logs and
# /proc:
#   - no non-2xx response outside a fault window (each window: fault start to recovery
#     plus --grace-ms);
#   - no request longer than the deadline bound: 2 operations x (acquire + connect +
#     operation timeout) + --slack-ms;
#   - no crashed httpd child (error log, and children that vanished outside a graceful
#     restart);
#   - no file descriptor growth: idle children at the end vs idle children at the start;
#   - memcached connections once idle: at most children x smax per server.
# A table goes to stdout and a machine-readable summary to OUT/summary.json; the exit
# status is 0 when every check passed, 1 when one failed, 2 when the soak could not run.
#
# Usage: tests/soak/soak.sh [--minutes N | --seconds N] [--mpm event|worker|prefork]
#                           [options]      (--help lists them all)
# e.g.   tests/soak/soak.sh --minutes 20
# Every server runs on a free loopback port and is stopped by PID; nothing else on the
# machine is touched. By default the whole run is niced (--nice 10).
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
orig_args=("$@")

usage() {
  cat <<'EOF'
Usage: tests/soak/soak.sh [options]
  --minutes N | --seconds N   length of the loaded run with faults (default 20 minutes)
  --mpm event|worker|prefork  httpd MPM (default event)
  --servers N                 memcached servers (default 3)
  --threads N                 wrk threads (default 2)
  --connections N             wrk connections (default 8)
  --timeout-ms N              MemcacheConnectTimeout, MemcacheTimeout and
                              MemcacheAcquireTimeout (default 200)
  --hold S                    how long a memcached stays killed or stopped (default 4)
  --quiet S                   pause between faults (default 8)
  --tail S                    fault-free load at the end of the run (default 30)
  --warmup S                  load before the start sample (default 10)
  --grace-ms N                a fault window lasts this long after recovery (default 1000)
  --slack-ms N                added to the deadline bound (default 500)
  --fd-slack N                descriptors an idle child may have beyond the start (default 2)
  --out DIR                   where configs, logs and summary.json go (default: a new
                              directory under /tmp, kept)
  --build-dir DIR             build tree (default $BUILD_DIR or build); built when needed
  --module PATH --example PATH  use these modules, do not build
  --nice N                    run everything at this niceness (default 10, 0: as is)
EOF
}

seconds=1200 mpm=event servers=3 threads=2 connections=8 timeout_ms=200
hold=4 quiet=8 tail=30 warmup=10 grace_ms=1000 slack_ms=500 fd_slack=2 nice_level=10
out="" build=${BUILD_DIR:-$root/build} module="" example=""
# Pool settings: min=smax so that idle pools have a known size once ttl has passed.
pool_min=2 pool_smax=2 pool_max=8 pool_ttl_s=2 retry_s=1

while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) seconds=$(( $2 * 60 )); shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --mpm) mpm=$2; shift 2 ;;
    --servers) servers=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --timeout-ms) timeout_ms=$2; shift 2 ;;
    --hold) hold=$2; shift 2 ;;
    --quiet) quiet=$2; shift 2 ;;
    --tail) tail=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --grace-ms) grace_ms=$2; shift 2 ;;
    --slack-ms) slack_ms=$2; shift 2 ;;
    --fd-slack) fd_slack=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    --module) module=$2; shift 2 ;;
    --example) example=$2; shift 2 ;;
    --nice) nice_level=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "soak: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$mpm" in event|worker|prefork) ;; *) echo "soak: --mpm must be event, worker or prefork" >&2; exit 2 ;; esac

if [ "$nice_level" -gt 0 ] && [ "${MMC_SOAK_NICED:-}" != 1 ]; then
  MMC_SOAK_NICED=1 exec nice -n "$nice_level" "$0" "${orig_args[@]}"
fi

# ---------------------------------------------------------------------------- setup
for tool in wrk memcached; do
  if ! command -v "$tool" >/dev/null; then
    "$root/scripts/install-deps.sh" wrk
    break
  fi
done
httpd_bin=/usr/sbin/apache2
mods=/usr/lib/apache2/modules
for f in "$httpd_bin" "$mods/mod_mpm_$mpm.so" "$(command -v wrk)" "$(command -v memcached)"; do
  [ -x "$f" ] || [ -f "$f" ] || { echo "soak: missing $f" >&2; exit 2; }
done

if [ -z "$module" ] || [ -z "$example" ]; then
  if [ ! -f "$build/CMakeCache.txt" ]; then
    generator=()
    command -v ninja >/dev/null && generator=(-G Ninja)
    cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
  cmake --build "$build" -j 2 --target mod_memcache mod_memcache_example >/dev/null
  module=$(find "$build/src/module" -name mod_memcache.so | head -n 1)
  example=$(find "$build/examples" -name mod_memcache_example.so | head -n 1)
fi
[ -f "$module" ] && [ -f "$example" ] || { echo "soak: modules not found ($module, $example)" >&2; exit 2; }

if [ -z "$out" ]; then
  out=$(mktemp -d /tmp/mmc-soak.XXXXXX)
else
  mkdir -p "$out"
  out=$(cd "$out" && pwd)
  # Only what an earlier run wrote there.
  rm -f "$out"/{access.log,error.log,httpd.stderr,httpd.conf,httpd.pid,windows.tsv,samples.tsv} \
        "$out"/{events.log,summary.json,phases.tsv,params.env,requests.env,mc-conns.tsv,parent.tsv} \
        "$out"/{windows-detail.tsv,non2xx-outside.txt,non2xx-reasons.txt,over-bound.txt} \
        "$out"/{crash-lines.txt,report.txt,stalls.tsv} "$out"/wrk-*.txt "$out"/memcached.*.log
fi
chmod 755 "$out"
mkdir -p "$out/htdocs"

log() { printf '%s %s\n' "$(date +%T)" "$*" | tee -a "$out/events.log" >&2; }
now_us() { NOW=${EPOCHREALTIME/./}; }   # microseconds since the epoch, in $NOW

run_as=()
user_directives=""
if [ "$(id -u)" -eq 0 ]; then
  run_as=(-u nobody)
  user_directives=$'User nobody\nGroup nogroup'
fi

# A loopback port nobody listens on (never 11211 or any other fixed port), below the
# kernel's ephemeral range so that no outgoing connection holds it when a server binds
# it (again, after a restart).
ephemeral_low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
[ "$ephemeral_low" -gt 12000 ] || ephemeral_low=61000
free_port() {
  local p
  while :; do
    p=$((12000 + RANDOM % (ephemeral_low - 12000)))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for_port() {  # port pid tenths-of-a-second: false when pid exits first or time is up
  local i
  for ((i = 0; i < $3; i++)); do
    port_open "$1" && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

declare -a mc_port=() mc_pid=()
mc_start() {  # index; on its port (a restart keeps the port; the first start may pick another)
  local i=$1 try
  for try in 1 2 3 4 5 6 7 8 9 10; do
    memcached -l 127.0.0.1 -p "${mc_port[$i]}" -U 0 -m 64 -c 1024 -t 2 "${run_as[@]}" \
      >>"$out/memcached.$i.log" 2>&1 &
    mc_pid[$i]=$!
    wait_for_port "${mc_port[$i]}" "${mc_pid[$i]}" 50 && return 0
    kill -KILL "${mc_pid[$i]}" 2>/dev/null || true
    wait "${mc_pid[$i]}" 2>/dev/null || true
    [ "${2:-}" = first ] && mc_port[$i]=$(free_port)
    sleep 0.2
  done
  return 1
}
mc_stat() {  # port stat-name
  { printf 'stats\r\nquit\r\n' | (exec 3<>"/dev/tcp/127.0.0.1/$1"; cat >&3; timeout 2 cat <&3) 2>/dev/null || true; } |
    awk -v n="$2" '$1 == "STAT" && $2 == n { sub(/\r$/, "", $3); print $3 }'
}

httpd_pid="" wrk_pid="" stall_pid=""
cleanup() {
  set +e
  [ -n "$stall_pid" ] && kill -TERM "$stall_pid" 2>/dev/null && wait "$stall_pid" 2>/dev/null
  [ -n "$wrk_pid" ] && kill -TERM "$wrk_pid" 2>/dev/null && wait "$wrk_pid" 2>/dev/null
  if [ -n "$httpd_pid" ] && kill -0 "$httpd_pid" 2>/dev/null; then
    kill -TERM "$httpd_pid"; wait "$httpd_pid" 2>/dev/null
  fi
  local p
  for p in "${mc_pid[@]}"; do
    kill -CONT "$p" 2>/dev/null; kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null
  done
}
trap cleanup EXIT
trap 'log "interrupted"; exit 2' INT TERM

for ((i = 0; i < servers; i++)); do
  mc_port[$i]=$(free_port)
  mc_start "$i" first || { echo "soak: memcached $i did not start" >&2; exit 2; }
done

threads_per_child=8
if [ "$mpm" = prefork ]; then
  nchildren=$connections
  mpm_conf="StartServers $nchildren
MinSpareServers 1
MaxSpareServers $((2 * nchildren))
ServerLimit $((2 * nchildren))
MaxRequestWorkers $nchildren"
else
  nchildren=2
  mpm_conf="StartServers $nchildren
ServerLimit $((2 * nchildren))
ThreadLimit $threads_per_child
ThreadsPerChild $threads_per_child
MaxRequestWorkers $((nchildren * threads_per_child))
MinSpareThreads $threads_per_child
MaxSpareThreads $((nchildren * threads_per_child))"
fi
server_lines=""
for ((i = 0; i < servers; i++)); do
  server_lines+="MemcacheServer 127.0.0.1:${mc_port[$i]} min=$pool_min smax=$pool_smax max=$pool_max ttl=${pool_ttl_s}s"$'\n'
done

write_httpd_conf() {
cat >"$out/httpd.conf" <<CONF
ServerRoot "$out"
ServerName 127.0.0.1
Listen 127.0.0.1:$http_port
PidFile "$out/httpd.pid"
DefaultRuntimeDir "$out"
Mutex file:$out default
DocumentRoot "$out/htdocs"
ErrorLog "$out/error.log"
LogLevel warn memcache:info
# Request start (µs), status, duration (µs), child PID, the example's error text.
LogFormat "%{begin:sec}t.%{begin:usec_frac}t %>s %D %P %{memcache-error}n" soak
CustomLog "$out/access.log" soak
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 5
GracefulShutdownTimeout 15
MaxConnectionsPerChild 0
LoadModule mpm_${mpm}_module $mods/mod_mpm_$mpm.so
LoadModule authz_core_module $mods/mod_authz_core.so
$user_directives
$mpm_conf
LoadModule memcache_module $module
LoadModule memcache_example_module $example

$server_lines
MemcacheConnectTimeout ${timeout_ms}ms
MemcacheTimeout ${timeout_ms}ms
MemcacheAcquireTimeout ${timeout_ms}ms
MemcacheRetryPeriod ${retry_s}s
MemcacheFailureLimit 2

<Location "/mc">
    SetHandler memcache-example
</Location>
CONF
}

for try in 1 2 3 4 5; do
  http_port=$(free_port)
  write_httpd_conf
  # A session of its own: prefork signals its whole process group when it stops
  # (SIGTERM), which must not reach this script. setsid does not fork here (a
  # background job of a script is no group leader), so $! is httpd's parent.
  setsid "$httpd_bin" -d "$out" -f "$out/httpd.conf" -DFOREGROUND >"$out/httpd.stderr" 2>&1 &
  httpd_pid=$!
  wait_for_port "$http_port" "$httpd_pid" 100 && break
  kill -TERM "$httpd_pid" 2>/dev/null || true
  wait "$httpd_pid" 2>/dev/null || true
  httpd_pid=""
  # Someone took the port between the check and the bind: another port.
  grep -q "could not bind" "$out/httpd.stderr" && continue
  break
done
if [ -z "$httpd_pid" ]; then
  cat "$out/httpd.stderr" "$out/error.log" >&2 2>/dev/null || true
  echo "soak: httpd did not start" >&2
  exit 2
fi
url="http://127.0.0.1:$http_port/mc"
for _ in $(seq 1 50); do [ -s "$out/httpd.pid" ] && break; sleep 0.1; done
if [ "$(cat "$out/httpd.pid" 2>/dev/null)" != "$httpd_pid" ]; then
  echo "soak: httpd's pid file says $(cat "$out/httpd.pid" 2>/dev/null), expected $httpd_pid" >&2
  exit 2
fi
log "out=$out mpm=$mpm httpd pid $httpd_pid port $http_port; memcached ports ${mc_port[*]} pids ${mc_pid[*]}"

# ------------------------------------------------------------- children and samples
declare -A known=() retired=() gone=()
unexpected_exits=0
children() {
  local f
  for f in /proc/"$httpd_pid"/task/*/children; do
    [ -r "$f" ] && cat "$f"
  done 2>/dev/null | tr ' ' '\n' | grep -v '^$' || true
}
fd_count() { local fds=(/proc/"$1"/fd/*); [ -e "${fds[0]}" ] && echo "${#fds[@]}" || echo 0; }
rss_kb() { awk '$1 == "VmRSS:" { print $2 }' /proc/"$1"/status 2>/dev/null || true; }
sample() {  # tag: one line per live child in samples.tsv
  local p fd rss
  now_us
  for p in $(children); do
    fd=$(fd_count "$p"); rss=$(rss_kb "$p")
    if [ -n "$rss" ]; then
      printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$NOW" "$p" "$fd" "$rss" >>"$out/samples.tsv"
    fi
    known[$p]=1
  done
  return 0
}
# A child that is gone without a graceful restart asking it to go exited unexpectedly.
check_children() {
  local p
  for p in "${!known[@]}"; do
    if [ -z "${gone[$p]:-}" ] && [ ! -d "/proc/$p" ]; then
      gone[$p]=1
      if [ -z "${retired[$p]:-}" ]; then
        unexpected_exits=$((unexpected_exits + 1))
        log "httpd child $p exited without a graceful restart"
      fi
    fi
  done
  kill -0 "$httpd_pid" 2>/dev/null || { log "httpd parent $httpd_pid is gone"; exit 1; }
}
last_sample=0
tick_until() {  # until $1 (µs): sample children every second, watch for exits
  while :; do
    now_us
    [ "$NOW" -ge "$1" ] && return 0
    if [ $((NOW - last_sample)) -ge 1000000 ]; then
      sample run
      check_children
      last_sample=$NOW
    fi
    sleep 0.2
  done
}
sleep_s() { now_us; tick_until $((NOW + $1 * 1000000)); }
phase() { now_us; printf '%s\t%s\n' "$1" "$NOW" >>"$out/phases.tsv"; }
window() {  # kind target start_us end_us
  printf '%s\t%s\t%s\t%s\n' "$@" >>"$out/windows.tsv"
}

wrk_run() {  # seconds, output file, extra wrk args...
  local d=$1 f=$2
  shift 2
  SOAK_KEYS=10000 wrk -t "$threads" -c "$connections" -d "${d}s" --timeout 10s --latency \
    -s "$here/keys.lua" "$@" "$url" >"$f" 2>&1
}
# Idle pools: wait for ttl, then requests on fresh connections reach every child and
# every server, and each release closes the connections idle longer than ttl above smax.
settle_and_sample() {  # tag
  sleep_s $((pool_ttl_s + 1))
  phase "trickle-$1"
  SOAK_KEYS=10000 wrk -t 1 -c 1 -d 3s -H "Connection: close" -s "$here/keys.lua" "$url" \
    >"$out/wrk-trickle-$1.txt" 2>&1 || true
  phase "idle-$1"
  sleep 0.5
  sample "$1"
  # The parent reloads the modules at every graceful restart.
  printf '%s\t%s\t%s\n' "$1" "$(fd_count "$httpd_pid")" "$(rss_kb "$httpd_pid")" >>"$out/parent.tsv"
  local i
  for ((i = 0; i < servers; i++)); do
    printf '%s\t%s\t%s\n' "$1" "$i" "$(mc_stat "${mc_port[$i]}" curr_connections)" >>"$out/mc-conns.tsv"
  done
}

# Scheduling stalls: at the soak's niceness, as httpd and memcached run, ask for 50 ms
# naps (read with a timeout on a FIFO nobody writes: no process is started) and record
# each that overran by 20 ms or more: "start_us lateness_us". On a busy machine these
# show when every process of the soak was waiting for a CPU.
stall_monitor() {
  local fd t0 t1
  rm -f "$out/nap.fifo"
  mkfifo "$out/nap.fifo"
  exec {fd}<>"$out/nap.fifo"
  while :; do
    t0=${EPOCHREALTIME/./}
    read -r -t 0.05 -u "$fd" _ || true
    t1=${EPOCHREALTIME/./}
    if [ $((t1 - t0)) -ge 70000 ]; then
      printf '%s\t%s\n' "$t0" $((t1 - t0 - 50000)) >>"$out/stalls.tsv"
    fi
  done
}
# "some" in /proc/pressure/cpu: microseconds in which some runnable task waited for a CPU.
cpu_pressure_us() { awk '/^some/ { sub("total=", "", $5); print $5 }' /proc/pressure/cpu 2>/dev/null || true; }

# ------------------------------------------------------------------------ the run
: >"$out/samples.tsv"; : >"$out/windows.tsv"; : >"$out/mc-conns.tsv"; : >"$out/phases.tsv"
: >"$out/parent.tsv"; : >"$out/stalls.tsv"
stall_monitor &
stall_pid=$!
phase warmup
log "warm-up ${warmup}s"
wrk_run "$warmup" "$out/wrk-warmup.txt" || { log "wrk warm-up failed"; cat "$out/wrk-warmup.txt" >&2; exit 2; }
settle_and_sample start
check_children

phase main
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
psi_start=$(cpu_pressure_us)
now_us
main_start=$NOW
main_end=$((main_start + seconds * 1000000))
faults_end=$((main_end - tail * 1000000))
log "loaded run ${seconds}s with faults until the last ${tail}s"
wrk_run "$seconds" "$out/wrk-main.txt" &
wrk_pid=$!

fits() { now_us; [ $((NOW + $1 * 1000000)) -le "$faults_end" ]; }
graceful_restart() {
  local p s settled=0 new
  for p in $(children); do retired[$p]=1; known[$p]=1; done
  now_us; s=$NOW
  kill -USR1 "$httpd_pid"
  # Settled: every retired child gone and a new generation serving.
  while :; do
    tick_until $((NOW + 200000))
    new=0
    for p in $(children); do [ -z "${retired[$p]:-}" ] && new=$((new + 1)); done
    settled=1
    for p in "${!retired[@]}"; do [ -d "/proc/$p" ] && settled=0 && break; done
    [ "$settled" = 1 ] && [ "$new" -ge 1 ] && break
    if [ $((NOW - s)) -gt 30000000 ]; then log "graceful restart not settled after 30 s"; break; fi
  done
  now_us
  window graceful httpd "$s" "$NOW"
  log "graceful restart: $(( (NOW - s) / 1000 )) ms until the old children were gone"
}
kill_restart() {  # server index
  local i=$1 s
  now_us; s=$NOW
  kill -KILL "${mc_pid[$i]}"
  wait "${mc_pid[$i]}" 2>/dev/null || true
  sleep_s "$hold"
  mc_start "$i" || { log "memcached $i did not restart on port ${mc_port[$i]}"; exit 2; }
  now_us
  window kill "mc$i" "$s" "$NOW"
  log "memcached $i (port ${mc_port[$i]}) killed and restarted (pid ${mc_pid[$i]}): $(( (NOW - s) / 1000 )) ms"
}
stop_cont() {  # server index
  local i=$1 s
  now_us; s=$NOW
  kill -STOP "${mc_pid[$i]}"
  sleep_s "$hold"
  kill -CONT "${mc_pid[$i]}"
  now_us
  window stop "mc$i" "$s" "$NOW"
  log "memcached $i stopped and continued: $(( (NOW - s) / 1000 )) ms"
}

cycle=0
sleep_s "$quiet"
while :; do
  fits 20 || break
  graceful_restart
  sleep_s "$quiet"
  fits $((hold + 2)) || break
  kill_restart $((cycle % servers))
  sleep_s "$quiet"
  fits "$hold" || break
  stop_cont $(((cycle + 1) % servers))
  sleep_s "$quiet"
  cycle=$((cycle + 1))
done
log "faults done ($cycle full cycles); fault-free load until the end"
tick_until "$main_end"
wait "$wrk_pid" || log "wrk exited with status $?"
wrk_pid=""
now_us
psi_end=$(cpu_pressure_us)
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
cpu_pressure_pct=$(awk -v a="${psi_start:-0}" -v b="${psi_end:-0}" -v t=$((NOW - main_start)) \
                     'BEGIN { printf "%.0f", (a == 0 || b == 0) ? -1 : 100 * (b - a) / t }')
phase after-main

settle_and_sample end
check_children
phase stop

# graceful-stop, as an operator would stop it
kill -WINCH "$httpd_pid"
for _ in $(seq 1 200); do kill -0 "$httpd_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$httpd_pid" 2>/dev/null; then log "httpd still running 20 s after graceful-stop"; kill -TERM "$httpd_pid"; fi
wait "$httpd_pid" 2>/dev/null || true
httpd_pid=""

kill -TERM "$stall_pid" 2>/dev/null; wait "$stall_pid" 2>/dev/null || true
stall_pid=""
rm -f "$out/nap.fifo"

# ------------------------------------------------------------------------ analysis
cat >"$out/params.env" <<PARAMS
mpm=$mpm
seconds=$seconds
servers=$servers
threads=$threads
connections=$connections
timeout_ms=$timeout_ms
hold=$hold
quiet=$quiet
tail=$tail
cycles=$cycle
pool_min=$pool_min
pool_smax=$pool_smax
pool_max=$pool_max
pool_ttl_s=$pool_ttl_s
retry_s=$retry_s
# 2 operations per request, each bounded by acquire + connect + operation timeout
bound_us=$(( (2 * 3 * timeout_ms + slack_ms) * 1000 ))
grace_us=$((grace_ms * 1000))
fd_slack=$fd_slack
unexpected_exits=$unexpected_exits
load_start="$load_start"
load_end="$load_end"
cpu_pressure_pct=$cpu_pressure_pct
command="tests/soak/soak.sh ${orig_args[*]}"
PARAMS
# Not exec: the EXIT trap stops the memcached servers.
rc=0
"$here/analyze.sh" "$out" || rc=$?
exit "$rc"
