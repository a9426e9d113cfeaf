#!/usr/bin/env bash
# Builds the four Debian packages (libapache2-mod-memcache, libap-memcache0,
# libap-memcache-dev, ap-memcache-bench) from this tree and checks them with lintian.
# Usage: scripts/package.sh [OUT_DIR]      (default: dist/)
# The build directory is $BUILD_DIR or build-package/, configured for prefix /usr.
# Exit status: 0 packages built and lintian reported no error; 1 otherwise.
# docker/Dockerfile runs this same script, so the image installs what is tested here.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
out=${1:-dist}
build=${BUILD_DIR:-build-package}

scripts/install-deps.sh
# Object files are shared with the test build through ccache when the flags agree.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$src} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_INSTALL_PREFIX=/usr -DMMC_BUILD_TESTS=OFF -DMMC_BUILD_MODULE=ON >/dev/null
cmake --build "$build" -j "$(nproc)"
rm -rf "$build/_CPack_Packages" "$build"/*.deb
(cd "$build" && cpack -G DEB >/dev/null)

mkdir -p "$out"
rm -f "$out"/*.deb
cp "$build"/*.deb "$out"/
for deb in "$out"/*.deb; do
  echo "== $(basename "$deb")"
  dpkg-deb -f "$deb" Package Version Architecture Depends
  dpkg-deb -c "$deb" | awk '{print "  " $1, $6}'
done

# Lintian: errors fail the build; the warnings kept are listed in docs/packaging.md.
echo "== lintian"
lintian --fail-on error --allow-root \
  "$out"/*.deb
echo "packages in $out/"
