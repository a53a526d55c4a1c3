#!/usr/bin/env bash
# Builds the Helm pinned in tools/k8s/go.mod (helm.sh/helm/v3) into
#   ${WS_DRAIN_CACHE:-<repo>/.cache}/helm/<version>/helm
# and reuses it later. Last stdout line: the binary's path.
#   HELM=$(tools/helm/build.sh | tail -n1)
# Helm lives in the Kubernetes binaries' module, at a release built on the same
# k8s.io libraries (v0.X of Kubernetes 1.X): one module resolves one version
# of every shared dependency, so after tools/k8s/build.sh has built kubectl a
# cold Helm build compiles only Helm's own packages (docs/development.md).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export GO_TOOL_MODULE_DIR="$here/../k8s"
# shellcheck source=../lib/go-tool.sh
. "$here/../lib/go-tool.sh"

# As Helm's Makefile stamps a release: `helm version` and the Kubernetes version
# `helm template`/`lint` assume (client-go v0.X -> 1.X) come from the module.
client_go="$(awk '$1 == "k8s.io/client-go" { print $2; exit }' "$GO_TOOL_MODULE_DIR/go.mod")"
k8s_minor="$(echo "$client_go" | cut -d. -f2)"
build_go_tool helm helm.sh/helm/v3 helm.sh/helm/v3/cmd/helm \
  "-X helm.sh/helm/v3/internal/version.version=\$version -X helm.sh/helm/v3/internal/version.gitTreeState=clean \
   -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$k8s_minor \
   -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$k8s_minor"
