#!/usr/bin/env bash
# Builds the Debian packages with scripts/package.sh (lintian included), checks their
# contents with dpkg-deb -c, extracts them with dpkg -x and runs httpd from a scratch
# copy of /etc/apache2 (never the machine's) with the extracted module and conf files
# enabled by a2enmod-style symlinks: configtest, then a request to mod_status showing
# the configured memcached. Usage: package_test.sh SOURCE_DIR MEMCACHED APACHE2
set -euo pipefail
src=$1 memcached=$2 apache2=$3
# shellcheck source=tests/install/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
[ -d /etc/apache2 ] || fail "/etc/apache2 not found: the apache2 package is needed"
need_tools "$memcached" "$apache2" dpkg-deb curl python3
make_work mmc-package

BUILD_DIR=${PACKAGE_BUILD_DIR:-$src/build-package} "$src/scripts/package.sh" "$work/dist" \
  >"$work/package.log" 2>&1 || { cat "$work/package.log"; fail "scripts/package.sh"; }
cat "$work/package.log"

version=$(sed -n 's/^#define AP_MEMCACHE_VERSION_STRING "\(.*\)"$/\1/p' "$src/include/ap_memcache.h")
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
mod=$work/dist/libapache2-mod-memcache_${version}-1_${arch}.deb
lib=$work/dist/libap-memcache0_${version}-1_${arch}.deb
dev=$work/dist/libap-memcache-dev_${version}-1_${arch}.deb
bench=$work/dist/ap-memcache-bench_${version}-1_${arch}.deb
for deb in "$mod" "$lib" "$dev" "$bench"; do [ -f "$deb" ] || fail "no $(basename "$deb") (version from the header: $version)"; done

expect() {  # deb path...: every path is in the package
  local deb=$1; shift
  local listing; listing=$(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's#^\./#/#')
  for path in "$@"; do
    grep -qx "$path" <<<"$listing" || fail "$(basename "$deb") lacks $path; it has:
$listing"
  done
}
expect "$mod" /usr/lib/apache2/modules/mod_memcache.so /etc/apache2/mods-available/memcache.load \
  /etc/apache2/mods-available/memcache.conf /usr/share/doc/libapache2-mod-memcache/copyright
expect "$lib" "/usr/lib/$multiarch/libap_memcache.so.$version" "/usr/lib/$multiarch/libap_memcache.so.0" \
  /usr/share/doc/libap-memcache0/copyright
expect "$dev" /usr/include/ap_memcache.h /usr/include/apache2/mod_memcache.h \
  "/usr/lib/$multiarch/libap_memcache.so" "/usr/lib/$multiarch/pkgconfig/ap_memcache.pc"
dpkg-deb -f "$mod" Depends | grep -q "apache2-api-20120211" || fail "the module does not depend on apache2-api-20120211"
! dpkg-deb -f "$mod" Depends | grep -q "libstdc++6" || fail "the module depends on libstdc++6, which it carries linked in (docs/design.md, \"Memory per child\")"
dpkg-deb -f "$mod" Depends | grep -q "libc6" || fail "the module does not depend on libc6"
# OpenSSL 3.0 at least (the loader's tables take functions that came with 3.0), in the
# package that holds libssl.so.3: libssl3, or libssl3t64 on later releases.
openssl_dep='libssl3[a-z0-9]* \(>= 3\.[0-9]+\.[0-9]+\)'
dpkg-deb -f "$lib" Depends | grep -Eq "$openssl_dep" || fail "the library does not depend on libssl3 (>= 3.x.y) (sealed values use libcrypto)"
dpkg-deb -f "$mod" Depends | grep -Eq "$openssl_dep" || fail "the module does not depend on libssl3 (>= 3.x.y) (TLS loads libssl at run time)"
dpkg-deb -f "$dev" Depends | grep -q "libap-memcache0 (= ${version}-1)" || fail "dev does not depend on its library"
expect "$bench" /usr/bin/mmc_bench /usr/share/doc/ap-memcache-bench/copyright
dpkg-deb -f "$bench" Depends | grep -q "libap-memcache0 (= ${version}-1)" || fail "the bench does not depend on the library"
echo "package contents: as expected"

# Extract, and enable the module in a scratch copy of the system's configuration.
x=$work/x
for deb in "$mod" "$lib" "$dev" "$bench"; do dpkg -x "$deb" "$x"; done
# The extracted tool runs with the extracted library and tells its options.
LD_LIBRARY_PATH="$x/usr/lib/$multiarch" "$x/usr/bin/mmc_bench" --help | grep -q -- "--servers" ||
  fail "the packaged mmc_bench does not run or does not know --servers"
etc=$work/etc/apache2
mkdir -p "$work/etc"
cp -a /etc/apache2 "$etc"
cp "$x/etc/apache2/mods-available/memcache.load" "$x/etc/apache2/mods-available/memcache.conf" \
  "$etc/mods-available/"
# The extracted module lives under $x, not in /usr/lib/apache2/modules.
sed -i "s#/usr/lib/apache2/modules/mod_memcache.so#$x/usr/lib/apache2/modules/mod_memcache.so#" \
  "$etc/mods-available/memcache.load"
grep -q "$x/usr/lib/apache2/modules/mod_memcache.so" "$etc/mods-available/memcache.load" \
  || fail "memcache.load does not load the packaged module path: $(cat "$etc/mods-available/memcache.load")"
ln -sf ../mods-available/memcache.load "$etc/mods-enabled/memcache.load"
ln -sf ../mods-available/memcache.conf "$etc/mods-enabled/memcache.conf"
rm -f "$etc"/sites-enabled/*
mc_port=$(free_port)
httpd_port=$(free_port)
echo "Listen 127.0.0.1:$httpd_port" >"$etc/ports.conf"
mkdir -p "$etc/conf-enabled"
cat >"$etc/conf-enabled/zz-memcache-test.conf" <<CONF
ServerName 127.0.0.1
MemcacheServer 127.0.0.1:$mc_port min=1 smax=2 max=4
CONF
mkdir -p "$work/run" "$work/lock" "$work/log"
export APACHE_CONFDIR=$etc APACHE_RUN_USER=www-data APACHE_RUN_GROUP=www-data
export APACHE_PID_FILE=$work/run/apache2.pid APACHE_RUN_DIR=$work/run
export APACHE_LOCK_DIR=$work/lock APACHE_LOG_DIR=$work/log LANG=C
id www-data >/dev/null 2>&1 || { export APACHE_RUN_USER=nobody APACHE_RUN_GROUP=nogroup; }

"$apache2" -d "$etc" -f apache2.conf -t || fail "configtest of the scratch configuration"
"$memcached" -l 127.0.0.1 -p "$mc_port" -U 0 -m 16 $( [ "$(id -u)" = 0 ] && echo -u nobody ) &
pids+=($!)
"$apache2" -d "$etc" -f apache2.conf -DFOREGROUND &
pids+=($!)
wait_port "$httpd_port" || { cat "$work/log/error.log"; fail "httpd did not start"; }
status=$(curl -sS --max-time 10 "http://127.0.0.1:$httpd_port/server-status") || fail "request to /server-status"
grep -q "mod_memcache" <<<"$status" && grep -q "127.0.0.1:$mc_port" <<<"$status" \
  || { echo "$status" | head -50; cat "$work/log/error.log"; fail "mod_status shows no mod_memcache section for 127.0.0.1:$mc_port"; }
echo "httpd from the extracted packages serves; mod_status lists 127.0.0.1:$mc_port"
echo "PASS"
