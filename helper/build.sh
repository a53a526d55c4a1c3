#!/usr/bin/env bash
# Builds the static ws-drain-helper into helper/bin/ and checks it is static
# and small: it is copied into every opted-in pod and must run in scratch,
# distroless and musl images alike.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

# The version has one source, package.json's "version" (docs/release.md);
# read with sed because the Go build image has no Node.
VERSION="${VERSION:-$(sed -n 's/^  "version": "\([^"]*\)".*/\1/p' ../package.json)}"
[[ -n "${VERSION}" ]] || { echo "error: no version: set VERSION or keep package.json next to helper/" >&2; exit 1; }
OUT="bin/ws-drain-helper"
# GOARCH may name another platform: release images cross-compile (docs/release.md).
target_arch="$(go env GOARCH)"
MAX_BYTES=$((3 * 1024 * 1024))

go vet ./...
mkdir -p bin
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o "${OUT}" .

size=$(wc -c < "${OUT}")
echo "ws-drain-helper ${VERSION} (${target_arch}): ${OUT} ${size} bytes ($((size / 1024)) KiB)"
if (( size > MAX_BYTES )); then
  echo "error: ${OUT} is ${size} bytes, more than ${MAX_BYTES}" >&2
  exit 1
fi
# The static check reads the ELF headers with debug/elf (no file/readelf needed).
# GOARCH/GOOS may name another platform (cross-compiled release images); the
# check itself runs on this machine and compares the ELF machine to it.
if ! check=$(WS_DRAIN_HELPER_BIN="$(pwd)/${OUT}" WS_DRAIN_HELPER_ARCH="${target_arch}" env -u GOARCH -u GOOS go test -count=1 -run '^TestBuiltBinaryIsStatic$' . 2>&1); then
  echo "${check}" >&2
  echo "error: ${OUT} is not a static binary" >&2
  exit 1
fi
echo "static: yes (no PT_INTERP, no DT_NEEDED), ELF machine ${target_arch}"
