#!/usr/bin/env bash
# Runs the build steps of docker/Dockerfile without Docker, for machines that cannot run
# containers: in a fresh clone of the repository's committed HEAD, into a temporary
# directory that is removed afterwards. Each step says which Dockerfile line it stands
# for; docker/README.md says what this does not cover.
#
#   build stage   scripts/package.sh into dist/ (lintian included), as `RUN ... package.sh
#                 /dist`; the library packages extracted with dpkg -x instead of
#                 installed with apt; the example module built with the same `apxs -c -o
#                 DIR/mod_memcache_example.la` (DIR not created beforehand, as in the image)
#                 against the extracted headers
#   final stage   the module package extracted; the example module and
#                 memcache-cluster.conf put where the Dockerfile puts them, in a scratch
#                 copy of /etc/apache2 (never the machine's); `a2enmod memcache` and
#                 `a2enconf memcache-cluster` as symlinks; apache2 -t on it as it is;
#                 then the compose demo: three memcached on free loopback ports in place
#                 of memcached-1..3, httpd on a free loopback port in place of port 80,
#                 and the two curl requests of docker/README.md
#
# Usage: docker/check-build-steps.sh [--keep]   (--keep leaves the directory for a look)
# Exit status 0 when every step passed. Needs what scripts/install-deps.sh installs.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && git rev-parse --show-toplevel)
keep=0
[ "${1:-}" = --keep ] && keep=1

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }
work=$(mktemp -d /tmp/mmc-docker-check.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]+"${pids[@]}"}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]+"${pids[@]}"}"; do wait "$p" 2>/dev/null || true; done
  if [ "$keep" = 1 ]; then echo "kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

step "fresh clone of $(git -C "$repo" rev-parse --short HEAD) (committed files only, as COPY . with .dockerignore sees no build tree)"
git clone -q --no-hardlinks "$repo" "$work/src"
src=$work/src
for ignored in 'build*' dist; do
  grep -Fqx "$ignored" "$src/.dockerignore" 2>/dev/null || fail ".dockerignore does not leave out $ignored"
done

step "build stage: scripts/package.sh /dist"
(cd "$src" && scripts/package.sh "$work/dist") >"$work/package.log" 2>&1 ||
  { tail -40 "$work/package.log"; fail "scripts/package.sh (log: $work/package.log)"; }
grep -E '^== |lintian' "$work/package.log" | grep -v '^  ' || true
ls "$work/dist"

step "build stage: apt-get install libap-memcache0 libap-memcache-dev (here: dpkg -x)"
root=$work/root
for deb in "$work"/dist/libap-memcache0_*.deb "$work"/dist/libap-memcache-dev_*.deb; do
  dpkg -x "$deb" "$root"
done

step "build stage: apxs -c -o /build/mod_memcache_example.la examples/mod_memcache_example.c"
# The image's apxs finds the installed headers in its default directories; here they
# are under $root, so they are named. /build does not exist beforehand in the image.
(cd "$src" && apxs -I"$root/usr/include/apache2" -I"$root/usr/include" \
   -c -o "$work/build/mod_memcache_example.la" examples/mod_memcache_example.c) \
  >"$work/apxs.log" 2>&1 || { cat "$work/apxs.log"; fail "apxs -c"; }
example=$work/build/.libs/mod_memcache_example.so
[ -f "$example" ] || fail "apxs made no $example (the Dockerfile copies /build/.libs/mod_memcache_example.so)"

step "final stage: apt-get install apache2 libapache2-mod-memcache (here: the system's apache2, the package extracted)"
dpkg -x "$work"/dist/libapache2-mod-memcache_*.deb "$root"
modules=$root/usr/lib/apache2/modules
cp "$example" "$modules/"
etc=$work/etc/apache2
mkdir -p "$work/etc"
cp -a /etc/apache2 "$etc"
rm -f "$etc"/mods-enabled/memcache.* "$etc"/conf-enabled/memcache-cluster.conf
cp "$root/etc/apache2/mods-available/memcache.load" "$root/etc/apache2/mods-available/memcache.conf" \
  "$etc/mods-available/"
cp "$src/docker/memcache-cluster.conf" "$etc/conf-available/memcache-cluster.conf"
# The modules live under $root here, not in /usr/lib/apache2/modules.
sed -i "s#/usr/lib/apache2/modules/#$modules/#" "$etc/mods-available/memcache.load" \
  "$etc/conf-available/memcache-cluster.conf"

step "final stage: a2enmod memcache && a2enconf memcache-cluster (here: their symlinks)"
ln -s ../mods-available/memcache.load "$etc/mods-enabled/memcache.load"
ln -s ../mods-available/memcache.conf "$etc/mods-enabled/memcache.conf"
ln -s ../conf-available/memcache-cluster.conf "$etc/conf-enabled/memcache-cluster.conf"
httpd_port=$(free_port)
# Port 80 of the image; the scratch server listens on loopback only.
echo "Listen 127.0.0.1:$httpd_port" >"$etc/ports.conf"
rm -f "$etc"/sites-enabled/*
mkdir -p "$work/run" "$work/lock" "$work/log"
export APACHE_CONFDIR=$etc APACHE_RUN_USER=www-data APACHE_RUN_GROUP=www-data
export APACHE_PID_FILE=$work/run/apache2.pid APACHE_RUN_DIR=$work/run
export APACHE_LOCK_DIR=$work/lock APACHE_LOG_DIR=$work/log LANG=C
id www-data >/dev/null 2>&1 || export APACHE_RUN_USER=nobody APACHE_RUN_GROUP=nogroup
echo "ServerName 127.0.0.1" >"$etc/conf-enabled/zz-servername.conf"

step "apache2 -t with memcache-cluster.conf as shipped (memcached-1..3:11211)"
apache2 -d "$etc" -f apache2.conf -t || fail "configtest"

step "CMD apache2ctl -D FOREGROUND, with memcached-1..3 as three local memcached"
mc_ports=()
for i in 1 2 3; do
  port=$(free_port)
  mc_ports+=("$port")
  memcached -l 127.0.0.1 -p "$port" -U 0 -m 16 $( [ "$(id -u)" = 0 ] && echo -u nobody ) &
  pids+=($!)
  sed -i "s#memcached-$i:11211#127.0.0.1:$port#" "$etc/conf-available/memcache-cluster.conf"
done
for port in "${mc_ports[@]}"; do wait_port "$port" || fail "memcached on $port did not start"; done
apache2 -d "$etc" -f apache2.conf -DFOREGROUND &
pids+=($!)
wait_port "$httpd_port" || { cat "$work/log/error.log"; fail "httpd did not start"; }

step "curl 'http://127.0.0.1:$httpd_port/mc?op=set&key=cow&value=moo', then op=get"
curl -sS --max-time 10 "http://127.0.0.1:$httpd_port/mc?op=set&key=cow&value=moo"; echo
got=$(curl -sS --max-time 10 "http://127.0.0.1:$httpd_port/mc?op=get&key=cow")
echo "$got"
grep -q moo <<<"$got" || { cat "$work/log/error.log"; fail "the get did not return moo"; }
echo "PASS: every build step of docker/Dockerfile ran, and the compose demo's requests answer"
