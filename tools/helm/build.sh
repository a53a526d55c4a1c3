#!/usr/bin/env bash
# Builds the Helm pinned in tools/helm/go.mod (helm.sh/helm/v3) into
#   ${WS_DRAIN_CACHE:-<repo>/.cache}/helm/<version>/helm
# and reuses it later. Last stdout line: the binary's path.
#   HELM=$(tools/helm/build.sh | tail -n1)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/go-tool.sh
. "$here/../lib/go-tool.sh"

# As Helm's Makefile stamps a release: `helm version` and the Kubernetes version
# `helm template`/`lint` assume (client-go v0.X -> 1.X) come from here.
client_go="$(awk '$1 == "k8s.io/client-go" { print $2; exit }' "$here/go.mod")"
k8s_minor="$(echo "$client_go" | cut -d. -f2)"
build_go_tool helm helm.sh/helm/v3 helm.sh/helm/v3/cmd/helm \
  "-X helm.sh/helm/v3/internal/version.version=\$version -X helm.sh/helm/v3/internal/version.gitTreeState=clean \
   -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$k8s_minor \
   -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$k8s_minor"
