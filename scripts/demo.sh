#!/usr/bin/env bash
# Builds mod_memcache, starts a memcached and an httpd (event MPM) with the module and
# the example consumer module on free loopback ports, shows a set and a get through the
# example handler, and keeps serving until Ctrl-C; then stops both by PID and removes
# its directory (/tmp/mod_memcache-demo.*: configuration and error log).
# Usage: scripts/demo.sh [--once] [--keep]
#   --once   stop right after showing the set/get
#   --keep   leave the /tmp/mod_memcache-demo.* directory in place (also MMC_DEMO_KEEP=1)
#   BUILD_DIR=DIR  the build directory, relative to the tree or absolute (default build)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

once=0
keep=${MMC_DEMO_KEEP:-0}
for arg in "$@"; do
  case "$arg" in
    --once) once=1 ;;
    --keep) keep=1 ;;
    *) echo "usage: scripts/demo.sh [--once] [--keep]" >&2; exit 2 ;;
  esac
done

scripts/install-deps.sh

build=${BUILD_DIR:-build}
case "$build" in /*) ;; *) build=$root/$build ;; esac
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" -j "$(nproc)" --target mod_memcache mod_memcache_example
module=$(find "$build/src/module" -name mod_memcache.so | head -n 1)
example=$(find "$build/examples" -name mod_memcache_example.so | head -n 1)

work=$(mktemp -d /tmp/mod_memcache-demo.XXXXXX)
chmod 755 "$work"
mc_pid=""
httpd_pid=""
cleanup() {
  [ -n "$httpd_pid" ] && kill -TERM "$httpd_pid" 2>/dev/null && wait "$httpd_pid" 2>/dev/null || true
  [ -n "$mc_pid" ] && kill -TERM "$mc_pid" 2>/dev/null && wait "$mc_pid" 2>/dev/null || true
  httpd_pid=""
  mc_pid=""
  if [ "$keep" = 1 ]; then
    echo "kept: $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'echo; echo "Stopping."; exit 0' INT TERM

# A loopback port nobody listens on (never 11211 or any other fixed port).
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
}
wait_for_port() {
  for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

run_as=()
user_directives=""
if [ "$(id -u)" -eq 0 ]; then
  run_as=(-u nobody)
  user_directives=$'User nobody\nGroup nogroup'
fi

mc_port=$(free_port)
memcached -l 127.0.0.1 -p "$mc_port" -U 0 -m 64 "${run_as[@]}" &
mc_pid=$!
wait_for_port "$mc_port" || { echo "memcached did not start" >&2; exit 1; }

http_port=$(free_port)
mods=/usr/lib/apache2/modules
cat > "$work/httpd.conf" <<CONF
ServerRoot "$work"
ServerName 127.0.0.1
Listen 127.0.0.1:$http_port
PidFile "$work/httpd.pid"
DefaultRuntimeDir "$work"
Mutex file:$work default
ErrorLog "$work/error.log"
LogLevel warn memcache:debug
LoadModule mpm_event_module $mods/mod_mpm_event.so
LoadModule authz_core_module $mods/mod_authz_core.so
LoadModule status_module $mods/mod_status.so
$user_directives
LoadModule memcache_module $module
LoadModule memcache_example_module $example

MemcacheServer 127.0.0.1:$mc_port min=2 smax=4 max=5 ttl=60

<Location "/mc">
    SetHandler memcache-example
</Location>
<Location "/server-status">
    SetHandler server-status
</Location>
CONF

/usr/sbin/apache2 -d "$work" -f "$work/httpd.conf" -DFOREGROUND &
httpd_pid=$!
wait_for_port "$http_port" || { echo "httpd did not start; its error log:" >&2; cat "$work/error.log" >&2; exit 1; }

base="http://127.0.0.1:$http_port/mc"
show() { echo "\$ curl '$1'"; curl -sS "$1"; echo; }
echo
echo "memcached on 127.0.0.1:$mc_port (pid $mc_pid), httpd on 127.0.0.1:$http_port (pid $httpd_pid)"
echo "config: $work/httpd.conf   error log: $work/error.log"
[ "$keep" = 1 ] || echo "(removed when the demo stops; --keep leaves them)"
echo
show "$base?op=set&key=cow&value=moo"
show "$base?op=get&key=cow"
show "$base?op=set&key=visits&value=41"
show "$base?op=incr&key=visits&n=1"
show "$base?op=servers"
echo "mod_status (this child's pools):"
curl -sS "http://127.0.0.1:$http_port/server-status?auto" | grep '^Memcache'
echo
echo "The value as memcached holds it:"
printf 'get cow\r\nquit\r\n' | (exec 3<>"/dev/tcp/127.0.0.1/$mc_port"; cat >&3; timeout 1 cat <&3) || true
echo

if [ "$once" -eq 1 ]; then
  exit 0
fi
echo "Serving: try curl '$base?op=get&key=cow'. Press Ctrl-C to stop."
wait "$httpd_pid"
