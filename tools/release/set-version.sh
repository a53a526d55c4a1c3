#!/usr/bin/env bash
# Sets the release version (docs/release.md): package.json's "version" is the
# one source; the CLI, the helper (helper/build.sh) and the image labels read it
# at build time. Files that cannot read it get it written here, and
# test/manifests/version.test.ts checks that they agree:
#   package.json, package-lock.json           npm version
#   manifests/base/kustomization.yaml         the webhook image's newTag
#   manifests/base/deployment.yaml            WS_DRAIN_HELPER_IMAGE's tag
#   charts/*/Chart.yaml                       version and appVersion
# usage: tools/release/set-version.sh 0.2.0
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
version="${1:?usage: tools/release/set-version.sh VERSION}"
# Semantic version (what npm, Helm and image tags all accept).
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] || { echo "error: $version is not a semantic version (1.2.3 or 1.2.3-rc.1)" >&2; exit 2; }
cd "$repo"
npm version --no-git-tag-version --allow-same-version "$version" >/dev/null
sed -i -E "s/^(    newTag: ).*/\1$version/" manifests/base/kustomization.yaml
sed -i -E "s#^(              value: ghcr.io/ws-drain/ws-drain-helper:).*#\1$version#" manifests/base/deployment.yaml
for chart in charts/*/Chart.yaml; do
  [[ -f "$chart" ]] || continue
  sed -i -E "s/^version: .*/version: $version/; s/^appVersion: .*/appVersion: \"$version\"/" "$chart"
done
echo "version $version: package.json package-lock.json manifests/base $(ls charts/*/Chart.yaml 2>/dev/null | tr '\n' ' ')"
