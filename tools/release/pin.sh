#!/usr/bin/env bash
# Pins an install to the digests tools/release/build.sh printed (docs/release.md):
#
#   tools/release/pin.sh [--base PATH_OR_URL] [--out DIR] IMAGES_ENV
#
# writes, in DIR (default: the folder of IMAGES_ENV + /pinned):
#   kustomization.yaml   the kustomize install (--base, default manifests/base; a
#                        local folder or a remote base such as
#                        github.com/ws-drain/ws-drain/manifests/base?ref=v0.1.0)
#                        with the webhook image and the injected helper image
#                        (WS_DRAIN_HELPER_IMAGE) set to the pushed digests:
#                        kubectl apply -k DIR
#   values-pinned.yaml   the same pins for the Helm chart:
#                        helm install ws-drain charts/ws-drain -f DIR/values-pinned.yaml
# IMAGES_ENV has lines ws-drain-webhook=REPOSITORY:TAG@sha256:... and
# ws-drain-helper=REPOSITORY:TAG@sha256:...
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
base="$repo/manifests/base"
out=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --base) base="$2"; shift ;;
    --base=*) base="${1#--base=}" ;;
    --out) out="$2"; shift ;;
    --out=*) out="${1#--out=}" ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "unknown flag $1" >&2; exit 2 ;;
    *) break ;;
  esac
  shift
done
images="${1:?usage: tools/release/pin.sh [--base PATH_OR_URL] [--out DIR] IMAGES_ENV}"
out="${out:-$(dirname "$images")/pinned}"

ref_of() { # name → REPOSITORY:TAG@sha256:DIGEST
  local ref; ref="$(sed -n "s/^$1=//p" "$images")"
  [[ "$ref" =~ ^[^@[:space:]]+@sha256:[0-9a-f]{64}$ ]] || { echo "error: $images has no pinned $1 (want $1=REPOSITORY:TAG@sha256:DIGEST, got '$ref')" >&2; exit 1; }
  echo "$ref"
}
webhook="$(ref_of ws-drain-webhook)"
helper="$(ref_of ws-drain-helper)"
# REPOSITORY without the tag (a registry port's colon is followed by a slash).
repository() { local name="${1%@*}"; [[ "${name##*/}" == *:* ]] && name="${name%:*}"; echo "$name"; }

mkdir -p "$out"
# kustomize takes a local base by relative path.
if [[ -d "$base" ]]; then resource="$(realpath --relative-to="$out" "$base")"; else resource="$base"; fi
cat >"$out/kustomization.yaml" <<YAML
# Written by tools/release/pin.sh from $(basename "$images"): the install with
# the images pinned to the digests that were pushed.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $resource
images:
  - name: ghcr.io/ws-drain/ws-drain-webhook
    newName: $(repository "$webhook")
    digest: ${webhook##*@}
patches:
  # The helper image the webhook injects into opted-in pods.
  - patch: |-
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: ws-drain-webhook
        namespace: ws-drain-system
      spec:
        template:
          spec:
            containers:
              - name: webhook
                env:
                  - name: WS_DRAIN_HELPER_IMAGE
                    value: $helper
YAML
cat >"$out/values-pinned.yaml" <<YAML
# Written by tools/release/pin.sh from $(basename "$images"): chart values
# pinning both images to the digests that were pushed.
image:
  repository: $(repository "$webhook")
  digest: ${webhook##*@}
helperImage:
  repository: $(repository "$helper")
  digest: ${helper##*@}
YAML
echo "$out/kustomization.yaml"
echo "$out/values-pinned.yaml"
