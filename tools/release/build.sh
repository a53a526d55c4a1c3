#!/usr/bin/env bash
# Builds the release images, webhook and helper, each an OCI image index for
# linux/amd64 and linux/arm64, pushes them, writes their SBOMs and prints the
# pinned references (docs/release.md):
#
#   tools/release/build.sh [--local-bases] [--tls-verify=false] [--out DIR] REPOSITORY_PREFIX
#   e.g. tools/release/build.sh registry.example.com/platform
#     → registry.example.com/platform/ws-drain-webhook:<version>  (index: amd64 + arm64)
#       registry.example.com/platform/ws-drain-helper:<version>   (index: amd64 + arm64)
#
# stdout: one `ws-drain-<target>=REPOSITORY:VERSION@sha256:DIGEST` line per image
# (also in DIR/images.env, the input of tools/release/pin.sh). DIR (default
# dist/release) also gets ws-drain-<target>.spdx.json, the SBOMs. Progress on stderr.
#
# The version is package.json's, the revision is `git rev-parse HEAD` (with
# "-dirty" if the work tree has changes), the source is package.json's
# repository URL; all three become OCI labels. Registry credentials: `buildah login`.
#
# No emulation is needed: every RUN of the Dockerfile runs on this machine's
# platform and only COPY happens in the target platform's stages.
# --local-bases builds the Dockerfile's base images locally (tools/images/bases.sh),
# for machines that cannot pull public images (CI); the buildah storage is then
# the one under $WS_DRAIN_CACHE/images that tools/images/build.sh uses.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
local_bases=false
tls_verify=true
out="$repo/dist/release"
platforms=(amd64 arm64)
while [[ $# -gt 0 ]]; do
  case "$1" in
    --local-bases) local_bases=true ;;
    --tls-verify=false) tls_verify=false ;;
    --out) out="$2"; shift ;;
    --out=*) out="${1#--out=}" ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "unknown flag $1" >&2; exit 2 ;;
    *) break ;;
  esac
  shift
done
prefix="${1:?usage: tools/release/build.sh [--local-bases] [--tls-verify=false] [--out DIR] REPOSITORY_PREFIX}"
prefix="${prefix%/}"
log() { echo "[release $(date +%H:%M:%S)] $*" >&2; }

version="$(node -p "require('$repo/package.json').version")"
source_url="$(node -p "const r = require('$repo/package.json').repository; (typeof r === 'string' ? r : r.url).replace(/^git\+/, '').replace(/\.git$/, '')")"
revision="$(git -C "$repo" rev-parse HEAD)"
[[ -z "$(git -C "$repo" status --porcelain --untracked-files=no)" ]] || revision="$revision-dirty"

if $local_bases; then
  store="${WS_DRAIN_CACHE:-$repo/.cache}/images"
  mkdir -p "$store/downloads" "$store/tmp"
  # One builder at a time in this storage (tools/images/build.sh takes the same lock).
  exec 8>"$store/.build.lock"
  flock 8
  driver="${WS_DRAIN_BUILDAH_DRIVER:-overlay}"
  bh() { TMPDIR="$store/tmp" buildah --root "$store/buildah-$driver/root" --runroot "$store/buildah-$driver/runroot" --storage-driver "$driver" "$@"; }
  # shellcheck source=tools/images/bases.sh
  source "$repo/tools/images/bases.sh"
  node_build="$(base_node_build)"
  go_build="$(base_go_build)"
else
  bh() { buildah "$@"; }
fi

build_arch="$(go env GOARCH 2>/dev/null || uname -m | sed 's/x86_64/amd64/; s/aarch64/arm64/')"
mkdir -p "$out"
: >"$out/images.env"
labels_dir="$(mktemp -d)"
trap 'rm -rf "$labels_dir"' EXIT
for target in helper webhook; do
  list="localhost/ws-drain-release/ws-drain-$target:$version"
  bh manifest rm "$list" >/dev/null 2>&1 || true
  bh manifest create "$list" >/dev/null
  for arch in "${platforms[@]}"; do
    # BUILDPLATFORM explicitly: buildah before 1.30 does not set it, and an
    # empty one would build (and pull) the build stages for the target platform.
    args=(--build-arg "BUILDPLATFORM=linux/$build_arch" --build-arg "VERSION=$version" --build-arg "REVISION=$revision" --build-arg "SOURCE=$source_url")
    if $local_bases; then
      args+=(--build-arg "NODE_BUILD_IMAGE=$node_build" --build-arg "GO_BUILD_IMAGE=$go_build" --build-arg "RUNTIME_IMAGE=$(base_runtime "$arch")")
    fi
    log "building ws-drain-$target for linux/$arch"
    start=$SECONDS
    built="localhost/ws-drain-release/ws-drain-$target:build-$arch"
    bh bud --quiet --isolation chroot --layers --platform "linux/$arch" --target "$target" "${args[@]}" \
      -f "$repo/Dockerfile" -t "$built" "$repo" >&2
    # The labels again, written out in a one-line Containerfile: buildah's
    # layer cache keys a LABEL step by its text, not by the ARG values in it, so
    # a cached image would keep an older revision. A LABEL adds no layer.
    printf 'FROM %s\nLABEL org.opencontainers.image.version="%s" org.opencontainers.image.revision="%s" org.opencontainers.image.source="%s"\n' \
      "$built" "$version" "$revision" "$source_url" >"$labels_dir/Containerfile"
    bh bud --quiet --isolation chroot --layers --pull=never --platform "linux/$arch" --manifest "$list" -f "$labels_dir/Containerfile" "$labels_dir" >&2
    log "built ws-drain-$target for linux/$arch in $((SECONDS - start))s"
  done
  remote="$prefix/ws-drain-$target:$version"
  log "pushing $remote"
  bh manifest push --all --quiet --format oci --tls-verify="$tls_verify" --digestfile "$out/ws-drain-$target.digest" "$list" "docker://$remote" >&2
  echo "ws-drain-$target=$remote@$(cat "$out/ws-drain-$target.digest")" | tee -a "$out/images.env"
  rm -f "$out/ws-drain-$target.digest"
  # The local list is only a staging area (and old buildah lists it badly once pushed).
  bh manifest rm "$list" >/dev/null
done

sbom_args=(--out "$out" --revision "$revision" --images "$out/images.env")
$local_bases && sbom_args+=(--go-version "$(go env GOVERSION)")
node "$here/sbom.mjs" "${sbom_args[@]}" >&2
log "SBOMs: $out/ws-drain-webhook.spdx.json $out/ws-drain-helper.spdx.json; pin with: tools/release/pin.sh $out/images.env"
