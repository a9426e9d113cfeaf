#!/usr/bin/env bash
# Installs the build into a scratch DESTDIR and uses only what was installed:
#   1. ap_memcache.pc has real directories, and pkg-config gives flags into the tree;
#   2. a program outside httpd (client.c) builds with `pkg-config --cflags --libs
#      ap_memcache` alone and talks to a real memcached through the installed library;
#   3. a module (mod_install_consumer.c) builds with `apxs -c` against the installed
#      mod_memcache.h and, loaded next to the installed mod_memcache.so in a real httpd,
#      passes configtest and serves a request through ap_memcache_client().
# Usage: install_test.sh BUILD_DIR SOURCE_DIR LIBDIR INCLUDEDIR MODULEDIR HEADERDIR
#        MEMCACHED APACHE2 APXS
# (the directories are the absolute install locations CMake chose). Every server is
# started on a free loopback port and stopped by PID. Exit 0: every step passed.
set -euo pipefail
build=$1 src=$2 libdir=$3 includedir=$4 moduledir=$5 headerdir=$6
memcached=$7 apache2=$8 apxs=$9

# shellcheck source=tests/install/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
need_tools "$memcached" "$apache2" "$apxs" pkg-config curl cc
make_work mmc-install

root=$work/root
DESTDIR=$root cmake --install "$build" >"$work/install.log" || { cat "$work/install.log"; fail "cmake --install"; }
echo "installed into $root:"
(cd "$root" && find . -type f -o -type l | sort | sed 's/^\./  /')

# 1. The .pc file.
pc=$root$libdir/pkgconfig/ap_memcache.pc
[ -f "$pc" ] || fail "no $pc"
grep -q '^prefix=${pcfiledir}/' "$pc" || fail "ap_memcache.pc: prefix is not relative to the file: $(grep ^prefix "$pc")"
export PKG_CONFIG_PATH=$root$libdir/pkgconfig
pc_libdir=$(realpath -m "$(pkg-config --variable=libdir ap_memcache)")
pc_includedir=$(realpath -m "$(pkg-config --variable=includedir ap_memcache)")
[ "$pc_libdir" = "$root$libdir" ] || fail "ap_memcache.pc: libdir is $pc_libdir, not $root$libdir"
[ "$pc_includedir" = "$root$includedir" ] || fail "ap_memcache.pc: includedir is $pc_includedir, not $root$includedir"
flags=$(pkg-config --cflags --libs ap_memcache) || fail "pkg-config --cflags --libs ap_memcache"
echo "pkg-config: $flags"
[ -f "$root$includedir/ap_memcache.h" ] || fail "ap_memcache.h is not in $includedir"
[ -f "$root$headerdir/mod_memcache.h" ] || fail "mod_memcache.h is not in apxs's INCLUDEDIR $headerdir"
[ -f "$root$moduledir/mod_memcache.so" ] || fail "mod_memcache.so is not in $moduledir"

# 2. A program outside httpd.
# shellcheck disable=SC2086
cc -Wall -Wextra -Werror -o "$work/client" "$src/tests/install/client.c" $flags \
  || fail "building client.c with pkg-config's flags"
mc_port=$(free_port)
"$memcached" -l 127.0.0.1 -p "$mc_port" -U 0 -m 16 $( [ "$(id -u)" = 0 ] && echo -u nobody ) &
pids+=($!)
wait_port "$mc_port" || fail "memcached did not start on $mc_port"
out=$(LD_LIBRARY_PATH=$root$libdir "$work/client" 127.0.0.1 "$mc_port") || fail "client: $out"
echo "client: $out"
# ldd's output is read whole before it is searched: `ldd | grep -q` under pipefail fails
# when grep stops at the match while ldd still writes (more libraries listed after it).
ldd_plain=$(ldd "$work/client" || true)
ldd_path=$(LD_LIBRARY_PATH=$root$libdir ldd "$work/client" || true)
grep -q "$root$libdir/libap_memcache.so" <<<"$ldd_plain$ldd_path" \
  || fail "the client did not use the installed library"

# 3. A module built with apxs against the installed header, in a real httpd.
cp "$src/tests/install/mod_install_consumer.c" "$work/"
(cd "$work" && "$apxs" -c -I"$root$headerdir" -I"$root$includedir" mod_install_consumer.c >apxs.log 2>&1) \
  || { cat "$work/apxs.log"; fail "apxs -c against the installed header"; }
consumer=$work/.libs/mod_install_consumer.so
[ -f "$consumer" ] || fail "apxs built no $consumer"
httpd_port=$(free_port)
mods=$("$apxs" -q LIBEXECDIR)
mkdir -p "$work/httpd/run" "$work/httpd/logs"
cat >"$work/httpd/httpd.conf" <<CONF
ServerRoot "$work/httpd"
ServerName 127.0.0.1
Listen 127.0.0.1:$httpd_port
PidFile "$work/httpd/run/httpd.pid"
DefaultRuntimeDir "$work/httpd/run"
ErrorLog "$work/httpd/logs/error.log"
LoadModule mpm_event_module $mods/mod_mpm_event.so
LoadModule authz_core_module $mods/mod_authz_core.so
LoadModule memcache_module "$root$moduledir/mod_memcache.so"
LoadModule install_consumer_module "$consumer"
$( [ "$(id -u)" = 0 ] && printf 'User nobody\nGroup %s\n' "$(id -gn nobody 2>/dev/null || echo nogroup)" )
MemcacheServer 127.0.0.1:$mc_port
<Location /consumer>
    SetHandler install-consumer
</Location>
CONF
"$apache2" -f "$work/httpd/httpd.conf" -t || fail "configtest with the installed module"
"$apache2" -f "$work/httpd/httpd.conf" -DFOREGROUND &
pids+=($!)
wait_port "$httpd_port" || { cat "$work/httpd/logs/error.log"; fail "httpd did not start"; }
body=$(curl -sS --max-time 10 "http://127.0.0.1:$httpd_port/consumer") || fail "request to /consumer"
echo "httpd: $body"
version=$(LD_LIBRARY_PATH=$root$libdir "$work/client" 127.0.0.1 "$mc_port" | sed 's/^version \([^:]*\):.*/\1/')
[ "$body" = "$version from-apxs" ] || { cat "$work/httpd/logs/error.log"; fail "unexpected reply: $body"; }
echo "PASS"
