#!/usr/bin/env bash
# Checks that the built objects do not link OpenSSL: no NEEDED entry for libssl or
# libcrypto, and no OpenSSL symbol left for the dynamic linker to resolve. OpenSSL is
# loaded at run time when a TLS server or a seal key ring needs it (docs/design.md,
# "OpenSSL on demand"); a macro of OpenSSL's headers used by mistake would show here as
# an undefined symbol.
# Usage: no_openssl_link.sh <readelf> <nm> <file>...
set -euo pipefail
readelf=$1 nm=$2
shift 2
for tool in "$readelf" "$nm"; do
  if ! command -v "$tool" >/dev/null; then
    echo "FAIL: $tool not found (binutils)" >&2
    exit 1
  fi
done
[ $# -gt 0 ] || { echo "FAIL: no file to check" >&2; exit 1; }

status=0
for f in "$@"; do
  file_status=0
  if [ ! -f "$f" ]; then
    echo "FAIL: $f does not exist" >&2
    status=1
    continue
  fi
  needed=$("$readelf" -d "$f" | grep '(NEEDED)' || true)
  if bad=$(grep -E '\[lib(ssl|crypto)\.so' <<<"$needed"); then
    echo "FAIL: $f links OpenSSL:" >&2
    echo "$bad" >&2
    file_status=1
  fi
  undefined=$("$nm" -D --undefined-only "$f" | awk '{print $NF}')
  if bad=$(grep -E '^(SSL|TLS|DTLS|ERR|EVP|BIO|X509|PEM|RAND|CRYPTO|OPENSSL|OSSL|ASN1|BN|RSA|PKCS[0-9]*|HMAC|d2i|i2d)_' <<<"$undefined"); then
    echo "FAIL: $f leaves OpenSSL symbols undefined (call them through engine/openssl_api.h):" >&2
    echo "$bad" >&2
    file_status=1
  fi
  if [ "$file_status" -eq 0 ]; then
    echo "ok: $f: $(grep -c . <<<"$needed") NEEDED entries, none OpenSSL's; no undefined OpenSSL symbol"
  else
    status=1
  fi
done
exit "$status"
