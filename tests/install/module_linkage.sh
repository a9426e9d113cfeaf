#!/usr/bin/env bash
# Checks how the shared objects are linked (docs/design.md, "Memory per child";
# docs/packaging.md): both with full RELRO (BIND_NOW and a GNU_RELRO segment), and the
# module, when it carries libstdc++ itself, without libstdc++.so or libgcc_s.so.
# Usage: module_linkage.sh <readelf> <static-libstdc++: 0|1> <module> <library>
set -euo pipefail
readelf=$1 static_cxx=$2 module=$3 library=$4
command -v "$readelf" >/dev/null || { echo "FAIL: $readelf not found (binutils)" >&2; exit 1; }
status=0
for f in "$module" "$library"; do
  [ -f "$f" ] || { echo "FAIL: $f does not exist" >&2; status=1; continue; }
  "$readelf" -d "$f" | grep -qE '\(FLAGS\).*BIND_NOW' ||
    { echo "FAIL: $f is not linked with -z now" >&2; status=1; }
  "$readelf" -lW "$f" | grep -q 'GNU_RELRO' ||
    { echo "FAIL: $f has no RELRO segment" >&2; status=1; }
done
if [ "$static_cxx" = 1 ]; then
  if bad=$("$readelf" -d "$module" | grep '(NEEDED)' | grep -E '\[lib(stdc\+\+|gcc_s)\.so'); then
    echo "FAIL: $module links the shared libstdc++/libgcc_s it should carry:" >&2
    echo "$bad" >&2
    status=1
  fi
fi
[ "$status" -eq 0 ] && echo "ok: full RELRO in both; module NEEDED: $("$readelf" -d "$module" | grep '(NEEDED)' | sed 's/.*\[\(.*\)\]/\1/' | tr '\n' ' ')"
exit "$status"
