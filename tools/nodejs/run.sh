#!/usr/bin/env bash
# Runs a command with the Node release the webhook image runs first on PATH:
# the Dockerfile's NODE_VERSION, from the npm package node-linux-<arch> (Node's
# official Linux binary), cached under $WS_DRAIN_CACHE/nodejs/<version>/. CI runs
# the unit and server tests this way as well as on the machine's Node, so the
# image's runtime is a tested one (docs/release.md):
#   tools/nodejs/run.sh npx vitest run --project unit      (npm run test:unit:image-node)
#   tools/nodejs/run.sh --print                            prints the node binary's path
#   tools/nodejs/run.sh --arch arm64 --print               the same for another architecture
#                                                          (tools/images/bases.sh puts it in images)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
version="$(sed -n 's/^ARG NODE_VERSION=//p' "$repo/Dockerfile")"
[[ -n "$version" ]] || { echo "error: no ARG NODE_VERSION=... in $repo/Dockerfile" >&2; exit 1; }
machine="$(uname -m)"
if [[ "${1:-}" == --arch ]]; then machine="${2:?--arch needs amd64 or arm64}"; shift 2; fi
case "$machine" in x86_64|amd64|x64) arch=x64 ;; aarch64|arm64) arch=arm64 ;; *) echo "error: no node-linux package for $machine" >&2; exit 1 ;; esac
dir="${WS_DRAIN_CACHE:-$repo/.cache}/nodejs/$version-$arch"
if [[ ! -x "$dir/bin/node" ]]; then
  echo "nodejs: fetching Node $version (npm package node-linux-$arch) into $dir" >&2
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  # npm checks the tarball against the registry's integrity hash.
  (cd "$tmp" && npm pack --silent "node-linux-$arch@$version" >/dev/null)
  mkdir -p "$tmp/out"
  tar -xzf "$tmp/node-linux-$arch-$version.tgz" -C "$tmp/out" --strip-components=1 package/bin/node package/LICENSE
  mkdir -p "$(dirname "$dir")" && rm -rf "$dir" && mv "$tmp/out" "$dir"
fi
if [[ "${1:-}" == --print ]]; then echo "$dir/bin/node"; exit 0; fi
got="$("$dir/bin/node" --version)"
[[ "$got" == "v$version" ]] || { echo "error: $dir/bin/node is $got, want v$version" >&2; exit 1; }
echo "nodejs: running on Node $got ($dir/bin/node)" >&2
export PATH="$dir/bin:$PATH"
exec "$@"
