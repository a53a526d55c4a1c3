#!/usr/bin/env bash
# Prints the path of jemalloc's shared object as the webhook image carries it:
# Debian bookworm's package libjemalloc2 at the Dockerfile's JEMALLOC_VERSION,
# for this machine's architecture (or --arch amd64|arm64), fetched once with
# `apt-get download` (a private apt state folder: the system's apt is untouched;
# apt checks the package against the archive's signed index) and unpacked into
# $WS_DRAIN_CACHE/jemalloc/<version>-<arch>/. The bench and the tests preload
# it (LD_PRELOAD) to run serve as the image does (scripts/bundle.ts,
# imageNodeEnv; docs/performance.md).
#   tools/images/jemalloc.sh [--arch arm64]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
version="$(sed -n 's/^ARG JEMALLOC_VERSION=//p' "$repo/Dockerfile")"
[[ -n "$version" ]] || { echo "error: no ARG JEMALLOC_VERSION=... in $repo/Dockerfile" >&2; exit 1; }
arch="$(dpkg --print-architecture)"
if [[ "${1:-}" == --arch ]]; then arch="${2:?--arch needs amd64 or arm64}"; fi
case "$arch" in amd64|arm64) ;; *) echo "error: no jemalloc for $arch here (amd64, arm64)" >&2; exit 1 ;; esac
dir="${WS_DRAIN_CACHE:-$repo/.cache}/jemalloc/$version-$arch"
if [[ ! -f "$dir/libjemalloc.so.2" ]]; then
  mkdir -p "$(dirname "$dir")"
  exec 9>"$dir.lock"
  flock 9
  if [[ ! -f "$dir/libjemalloc.so.2" ]]; then
    echo "jemalloc: fetching Debian's libjemalloc2 $version for $arch (apt-get download) into $dir" >&2
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/deb"
    opts=(-o "APT::Architecture=$arch" -o "APT::Architectures::=$arch" -o "Dir::State::Lists=$tmp/lists"
      -o "Dir::Cache=$tmp/cache" -o "Dir::State::status=/dev/null" -o "APT::Sandbox::User=root")
    apt-get "${opts[@]}" -qq update >&2
    (cd "$tmp/deb" && apt-get "${opts[@]}" -qq download "libjemalloc2:$arch=$version" >&2)
    dpkg-deb -x "$tmp"/deb/libjemalloc2_*.deb "$tmp/x"
    mkdir -p "$tmp/out"
    cp "$tmp"/x/usr/lib/*/libjemalloc.so.2 "$tmp"/x/usr/share/doc/libjemalloc2/copyright "$tmp/out/"
    rm -rf "$dir" && mv "$tmp/out" "$dir"
  fi
fi
echo "$dir/libjemalloc.so.2"
