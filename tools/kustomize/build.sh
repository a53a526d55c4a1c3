#!/usr/bin/env bash
# Builds the kustomize pinned in tools/kustomize/go.mod into
#   ${WS_DRAIN_CACHE:-<repo>/.cache}/kustomize/<version>/kustomize
# and reuses it on later runs. Prints the binary's path as the last stdout line,
# so callers can do: KUSTOMIZE=$(tools/kustomize/build.sh | tail -n1)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${WS_DRAIN_CACHE:-$repo/.cache}"

# The version comes from go.mod so there is exactly one place to bump it.
version="$(awk '$1 == "sigs.k8s.io/kustomize/kustomize/v5" { print $2 }' "$here/go.mod")"
if [[ -z "$version" ]]; then
  echo "tools/kustomize/build.sh: sigs.k8s.io/kustomize/kustomize/v5 not found in $here/go.mod" >&2
  exit 1
fi

out_dir="$cache/kustomize/$version"
bin="$out_dir/kustomize"

if [[ -x "$bin" ]]; then
  echo "kustomize $version: reusing $bin" >&2
  echo "$bin"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "tools/kustomize/build.sh: 'go' is not on PATH; install Go (see tools/kustomize/go.mod for the minimum version)" >&2
  exit 1
fi

mkdir -p "$out_dir"
echo "kustomize $version: building into $out_dir (first run downloads modules; later runs reuse the binary)" >&2
start=$(date +%s)
# Build to a temporary name and rename, so a concurrent or interrupted build
# never leaves a half-written binary that a later run would trust.
tmp="$(mktemp "$out_dir/kustomize.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
(
  cd "$here"
  CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X sigs.k8s.io/kustomize/api/provenance.version=$version" \
    -o "$tmp" sigs.k8s.io/kustomize/kustomize/v5
)
chmod 0755 "$tmp"
mv -f "$tmp" "$bin"
trap - EXIT
echo "kustomize $version: built in $(( $(date +%s) - start ))s" >&2
echo "$bin"
