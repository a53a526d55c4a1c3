#!/usr/bin/env bash
# Builds every image the real test node (test/node) runs and pushes them to its
# local registry:
#   pause                 the pod sandbox image (tools/images/pause)
#   ws-drain-helper       Dockerfile --target helper   } the Dockerfile users build,
#   ws-drain-webhook      Dockerfile --target webhook  } with local base images
#   ws-echo               examples/Dockerfile (the example WebSocket server)
# and the local stand-ins for the public base images, which cannot be pulled on
# CI machines (tools/images/bases.sh: Node from npm at the Dockerfile's
# NODE_VERSION, this machine's Go (GOROOT), Debian's libraries; docs/real-node.md):
#   runtime       ~ gcr.io/distroless/cc-debian12:nonroot
#   node-runtime  ~ gcr.io/distroless/nodejs24-debian12:nonroot  (the example)
#   node-build    ~ node:<NODE_VERSION>-bookworm-slim
#   go-build      ~ golang:1.26
#
# usage: tools/images/build.sh REGISTRY        (e.g. 127.0.0.1:5000)
# stdout: one `name=reference` line per pushed image; progress on stderr.
#
# buildah runs without a daemon (--isolation chroot). Storage driver: overlay
# (fast); WS_DRAIN_BUILDAH_DRIVER=vfs where overlay mounts are not allowed (vfs
# copies every layer: minutes instead of seconds). Its storage lives under
# $WS_DRAIN_CACHE/images, and each image is tagged by a hash of its inputs, so
# an unchanged image is not rebuilt.
set -euo pipefail

registry="${1:?usage: build.sh REGISTRY}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache_root="${WS_DRAIN_CACHE:-$repo/.cache}"
store="$cache_root/images"
log() { echo "[images $(date +%H:%M:%S)] $*" >&2; }

mkdir -p "$store/downloads"
exec 8>"$store/.build.lock"
flock 8

driver="${WS_DRAIN_BUILDAH_DRIVER:-overlay}"
# TMPDIR: buildah keeps RUN --mount=type=cache folders and scratch space there; keep them in the cache too.
mkdir -p "$store/tmp"
bh() { TMPDIR="$store/tmp" buildah --root "$store/buildah-$driver/root" --runroot "$store/buildah-$driver/runroot" --storage-driver "$driver" "$@"; }
# Hash of files (paths relative to the repo) and extra strings.
inputs_hash() {
  local extra="$1"; shift
  { echo "$extra"; (cd "$repo" && find "$@" -type f ! -path '*/node_modules/*' ! -path 'helper/bin/*' -print0 | sort -z | xargs -0 sha256sum); } |
    sha256sum | cut -c1-12
}
version="$(node -p "require('$repo/package.json').version")"
# The registry's storage is kept between runs: push only what it lacks.
remote_has() { # repository tag
  node -e "fetch('http://$registry/v2/ws-drain/$1/manifests/$2', { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' } }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
}
push() { # name local-ref [release]
  local remote="$registry/ws-drain/$1:${2##*:}"
  if remote_has "$1" "${2##*:}"; then echo "$1=$remote"; return; fi
  bh push --tls-verify=false --quiet "$2" "docker://$remote" >&2
  # Also under the release tag, so the node can mirror ghcr.io/ws-drain/* and
  # manifests that name release images (examples/k8s/ws-echo.yaml) run unchanged.
  if [[ "${3:-}" == release ]]; then bh push --tls-verify=false --quiet "$2" "docker://$registry/ws-drain/$1:$version" >&2; fi
  echo "$1=$remote"
}

# ---- local base images (tools/images/bases.sh) --------------------------------
# shellcheck source=tools/images/bases.sh
source "$here/bases.sh"

# ---- pause --------------------------------------------------------------------
pause_ref="localhost/ws-drain/pause:$(inputs_hash "$(go env GOVERSION)" tools/images/pause)"
if ! bases_exists "$pause_ref"; then
  log "building $pause_ref"
  (cd "$here/pause" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o pause .)
  bh bud --quiet --isolation chroot -f "$here/pause/Containerfile" -t "$pause_ref" "$here/pause" >&2
  rm -f "$here/pause/pause"
fi
push pause "$pause_ref"

# ---- the project's Dockerfile, both targets, on local bases -------------------
node_build="$(base_node_build)"
node_runtime="$(base_node_runtime)"
runtime="$(base_runtime "$host_arch")"
go_build="$(base_go_build)"
bases="$node_build $node_runtime $runtime $go_build"
base_args=(--build-arg "NODE_BUILD_IMAGE=$node_build" --build-arg "RUNTIME_IMAGE=$runtime" --build-arg "GO_BUILD_IMAGE=$go_build" --build-arg "VERSION=$version"
  # This machine's platform, spelled out: buildah before 1.30 sets neither
  # BUILDPLATFORM nor TARGETARCH without --platform (see docs/release.md).
  --platform "linux/$host_arch" --build-arg "BUILDPLATFORM=linux/$host_arch")
# examples/Dockerfile runs on a Node runtime image (distroless nodejs).
example_args=(--build-arg "NODE_BUILD_IMAGE=$node_build" --build-arg "NODE_RUNTIME_IMAGE=$node_runtime")
project_hash="$(inputs_hash "$bases" Dockerfile .dockerignore package.json package-lock.json tsconfig.json tsconfig.build.json scripts/bundle.ts scripts/code-cache-loader.cjs src helper)"
for target in helper webhook; do
  ref="localhost/ws-drain/ws-drain-$target:src-$project_hash"
  if ! bases_exists "$ref"; then
    log "building $ref (Dockerfile --target $target)"
    start=$SECONDS
    bh bud --quiet --isolation chroot --layers "${base_args[@]}" --target "$target" -f "$repo/Dockerfile" -t "$ref" "$repo" >&2
    log "built $ref in $((SECONDS - start))s"
  fi
  push "ws-drain-$target" "$ref" release
done

examples_hash="$(inputs_hash "$bases" examples src/core package.json package-lock.json)"
ref="localhost/ws-drain/ws-echo:src-$examples_hash"
if ! bases_exists "$ref"; then
  log "building $ref (examples/Dockerfile)"
  bh bud --quiet --isolation chroot --layers "${example_args[@]}" -f "$repo/examples/Dockerfile" -t "$ref" "$repo" >&2
fi
push ws-echo "$ref" release
