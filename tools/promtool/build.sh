#!/usr/bin/env bash
# Builds promtool from the Prometheus module pinned in tools/promtool/go.mod
# (github.com/prometheus/prometheus v0.X.Y is Prometheus 3.X.Y) into
#   ${WS_DRAIN_CACHE:-<repo>/.cache}/promtool/<version>/promtool
# and reuses it later. Last stdout line: the binary's path.
#   PROMTOOL=$(tools/promtool/build.sh | tail -n1)
# Built with -tags remove_all_sd: without Prometheus's service-discovery plugins
# (cloud SDKs, the Kubernetes client), which `promtool check rules` and
# `promtool test rules` never use; that drops most of a cold build.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/go-tool.sh
. "$here/../lib/go-tool.sh"

build_go_tool promtool github.com/prometheus/prometheus github.com/prometheus/prometheus/cmd/promtool \
  "-X github.com/prometheus/common/version.Version=\$version -X github.com/prometheus/common/version.Branch=release" \
  remove_all_sd
