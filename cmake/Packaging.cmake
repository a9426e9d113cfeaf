# Debian packages from the build (CPack DEB), one per install component:
#   libapache2-mod-memcache  the module, memcache.load and memcache.conf (component module)
#   libap-memcache0          the shared library for programs outside httpd (lib)
#   libap-memcache-dev       ap_memcache.h, mod_memcache.h, the .so link, ap_memcache.pc (dev)
#   ap-memcache-bench        mmc_bench, the benchmark tool (bench; when MMC_BUILD_BENCH)
# scripts/package.sh configures a build for this (prefix /usr, Release), runs cpack
# and lintian; docs/packaging.md explains the choices.

set(MMC_PACKAGE_MAINTAINER "mod_memcache developers <mod-memcache@example.org>" CACHE STRING
    "Maintainer field of the Debian packages")
set(MMC_PACKAGE_REVISION "1" CACHE STRING "Debian revision appended to the project version")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_DEBIAN_PACKAGE_RELEASE ${MMC_PACKAGE_REVISION})
set(CPACK_PACKAGE_CONTACT "${MMC_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${MMC_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "")
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL module lib dev)
set(_mmc_components module lib dev)
if(TARGET mmc_bench)
  list(APPEND CPACK_COMPONENTS_ALL bench)
  list(APPEND _mmc_components bench)
endif()
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Library dependencies (libc6, libstdc++6, libgcc-s1, libapr1 ...) as dpkg-shlibdeps
# finds them in the binaries, so they are right on whatever release builds the package.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)

# OpenSSL is loaded with dlopen() when a TLS server or a seal key ring needs it, not
# linked (docs/design.md, "OpenSSL on demand"), so dpkg-shlibdeps cannot see it: the
# module and the library name its package themselves. The package is the one holding
# the libssl this build compiled against (dpkg-query -S; Debian 12: libssl3, later
# releases libssl3t64), at least the release series of its headers (3.0.x headers:
# >= 3.0.0), which is what dpkg-shlibdeps wrote when the library was linked. Never
# below 3.0: find_package refuses older headers (the loader needs 3.0's functions).
# MMC_OPENSSL_DEPENDS replaces the entry, e.g. where dpkg is not there to ask.
set(MMC_OPENSSL_DEPENDS "" CACHE STRING
    "Depends entry for OpenSSL's runtime package (empty: the package dpkg says holds libssl)")
set(_mmc_openssl_depends "${MMC_OPENSSL_DEPENDS}")
if(NOT _mmc_openssl_depends)
  find_package(OpenSSL 3.0 REQUIRED)
  find_program(MMC_DPKG_QUERY dpkg-query)
  get_filename_component(_real "${OPENSSL_SSL_LIBRARY}" REALPATH)
  set(_package)
  if(MMC_DPKG_QUERY)
    execute_process(COMMAND ${MMC_DPKG_QUERY} -S "${_real}" OUTPUT_VARIABLE _owner ERROR_QUIET
                    OUTPUT_STRIP_TRAILING_WHITESPACE)
    string(REGEX REPLACE "^([^:, ]+).*$" "\\1" _package "${_owner}")
  endif()
  if(NOT _package)
    message(FATAL_ERROR "cannot tell which package holds ${_real} (dpkg-query -S): set "
                        "MMC_OPENSSL_DEPENDS, e.g. -DMMC_OPENSSL_DEPENDS=\"libssl3 (>= 3.0.0)\"")
  endif()
  string(REGEX MATCH "^[0-9]+\\.[0-9]+" _series "${OPENSSL_VERSION}")
  set(_mmc_openssl_depends "${_package} (>= ${_series}.0)")
endif()

set(CPACK_DEBIAN_MODULE_PACKAGE_NAME libapache2-mod-memcache)
set(CPACK_DEBIAN_MODULE_PACKAGE_SECTION httpd)
# The module ABI of httpd 2.4 (provided by Debian's apache2-bin).
set(CPACK_DEBIAN_MODULE_PACKAGE_DEPENDS "apache2-api-20120211, ${_mmc_openssl_depends}")
set(CPACK_COMPONENT_MODULE_DESCRIPTION
    "memcached client module for Apache httpd 2.4
mod_memcache gives other httpd modules a ready, thread-safe memcached client,
configured with MemcacheServer, through an API compatible with apr-util's
apr_memcache. Its own engine speaks the text and binary protocols with
connection pools, ketama consistent hashing, deadlines on every wait and
per-server health tracking, and shows its state on mod_status.")

set(CPACK_DEBIAN_LIB_PACKAGE_NAME libap-memcache0)
set(CPACK_DEBIAN_LIB_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_LIB_PACKAGE_DEPENDS "${_mmc_openssl_depends}")
set(CPACK_COMPONENT_LIB_DESCRIPTION
    "memcached client library with an apr_memcache-compatible API
The client engine of mod_memcache as a shared library, for programs outside
httpd: the apr_memcache-compatible calls and the ap_memcache extensions, with
connection pools, ketama consistent hashing and deadlines on every wait.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libap-memcache-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_SHLIBDEPS OFF)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "libap-memcache0 (= ${PROJECT_VERSION}-${MMC_PACKAGE_REVISION}), libapr1-dev, libaprutil1-dev")
set(CPACK_COMPONENT_DEV_DESCRIPTION
    "development files for mod_memcache's memcached client
Headers and pkg-config file for building programs against libap_memcache
(ap_memcache.h, pkg-config ap_memcache) and httpd modules against
mod_memcache (mod_memcache.h, in apxs's include directory).")

# mmc_bench links libap_memcache from this very build, which dpkg-shlibdeps cannot
# resolve (no installed package provides it yet), so its dependencies are written out.
set(CPACK_DEBIAN_BENCH_PACKAGE_NAME ap-memcache-bench)
set(CPACK_DEBIAN_BENCH_PACKAGE_SECTION net)
set(CPACK_DEBIAN_BENCH_PACKAGE_SHLIBDEPS OFF)
set(CPACK_DEBIAN_BENCH_PACKAGE_DEPENDS
    "libap-memcache0 (= ${PROJECT_VERSION}-${MMC_PACKAGE_REVISION}), libapr1, libaprutil1, libmemcached11, libmemcachedutil2, libc6, libstdc++6, libgcc-s1")
# memcached for runs on servers the bench starts itself; strace and valgrind for system
# calls and instructions per operation.
set(CPACK_DEBIAN_BENCH_PACKAGE_RECOMMENDS "memcached, strace, valgrind")
set(CPACK_COMPONENT_BENCH_DESCRIPTION
    "benchmark for memcached servers through mod_memcache's engine
mmc_bench measures gets, sets, multi-gets and threaded mixes through the
engine mod_memcache runs, beside apr-util's apr_memcache and libmemcached.
With --servers it measures servers already running: it starts and flushes
nothing, and deletes the keys it wrote.")

# /etc files are the administrator's: dpkg keeps their changes on upgrade.
file(WRITE ${PROJECT_BINARY_DIR}/packaging/module/conffiles
     "${MMC_HTTPD_CONF_DIR}/memcache.conf\n${MMC_HTTPD_CONF_DIR}/memcache.load\n")
set(CPACK_DEBIAN_MODULE_PACKAGE_CONTROL_EXTRA ${PROJECT_BINARY_DIR}/packaging/module/conffiles)

# The library's control files: shlibs (packages built against it depend on
# libap-memcache0 of at least this version) and the ldconfig trigger (dpkg runs ldconfig
# once after the transaction; no maintainer script needed). Written here rather than
# generated by CPack, whose generated postinst/postrm call ldconfig directly.
file(WRITE ${PROJECT_BINARY_DIR}/packaging/lib/shlibs
     "libap_memcache 0 libap-memcache0 (>= ${PROJECT_VERSION})\n")
file(WRITE ${PROJECT_BINARY_DIR}/packaging/lib/triggers "activate-noawait ldconfig\n")
set(CPACK_DEBIAN_LIB_PACKAGE_CONTROL_EXTRA
    ${PROJECT_BINARY_DIR}/packaging/lib/shlibs ${PROJECT_BINARY_DIR}/packaging/lib/triggers)

# Every package carries the copyright file and a changelog in /usr/share/doc/<name>.
string(TIMESTAMP _mmc_changelog_date "%a, %d %b %Y %H:%M:%S +0000" UTC)
foreach(component ${_mmc_components})
  string(TOUPPER ${component} _upper)
  set(_pkg ${CPACK_DEBIAN_${_upper}_PACKAGE_NAME})
  set(_dir ${PROJECT_BINARY_DIR}/packaging/${component})
  file(WRITE ${_dir}/changelog.Debian
"${_pkg} (${PROJECT_VERSION}-${MMC_PACKAGE_REVISION}) unstable; urgency=medium

  * Built from the mod_memcache ${PROJECT_VERSION} source tree; the project's
    history is its version control log.

 -- ${MMC_PACKAGE_MAINTAINER}  ${_mmc_changelog_date}
")
  execute_process(COMMAND gzip -n -9 -f ${_dir}/changelog.Debian)
  install(FILES ${PROJECT_SOURCE_DIR}/packaging/copyright ${_dir}/changelog.Debian.gz
          DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${_pkg}
          PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
          COMPONENT ${component})
endforeach()

include(CPack)
