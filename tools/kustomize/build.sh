#!/usr/bin/env bash
# Builds the kustomize pinned in tools/kustomize/go.mod into
#   ${WS_DRAIN_CACHE:-<repo>/.cache}/kustomize/<version>/kustomize
# and reuses it on later runs. Prints the binary's path as the last stdout line,
# so callers can do: KUSTOMIZE=$(tools/kustomize/build.sh | tail -n1)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/go-tool.sh
. "$here/../lib/go-tool.sh"

build_go_tool kustomize sigs.k8s.io/kustomize/kustomize/v5 sigs.k8s.io/kustomize/kustomize/v5 \
  "-X sigs.k8s.io/kustomize/api/provenance.version=\$version"
