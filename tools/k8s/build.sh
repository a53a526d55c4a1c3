#!/usr/bin/env bash
# Builds kube-apiserver, etcd and kubectl from the versions pinned in
# tools/k8s/go.mod into a cache directory keyed by those versions, and reuses
# them when they are already there. Progress goes to stderr; the last line on
# stdout is the binary directory, so callers can do: BIN=$(tools/k8s/build.sh).
#
# `build.sh --node` also builds what a real node needs (test/node):
# kube-controller-manager, kube-scheduler, kubelet and kube-proxy, from the same
# k8s.io/kubernetes module, into the same directory.
#
# `build.sh --agnhost` builds only agnhost (k8s.io/kubernetes/test/images/agnhost,
# same module and version), the reference webhook of Kubernetes' e2e tests that
# bench/admission.ts measures ws-drain against.
#
# Cache root: $WS_DRAIN_CACHE if set (CI points it outside the clone so a clean
# clone reuses the binaries), else <repo>/.cache. The Go build cache is left at
# its default so a rebuild after a fresh clone is mostly cache hits.
set -euo pipefail

want_etcd=true
k8s_cmds=(kube-apiserver kubectl)
case "${1:-}" in
  --node) k8s_cmds+=(kube-controller-manager kube-scheduler kubelet kube-proxy) ;;
  --agnhost) want_etcd=false; k8s_cmds=(agnhost) ;;
  "") ;;
  *) echo "usage: build.sh [--node | --agnhost]" >&2; exit 2 ;;
esac

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

k8s_version="$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ {print $2; exit}' "$here/go.mod")"
etcd_version="$(awk '$1 == "go.etcd.io/etcd/server/v3" && $2 ~ /^v/ {print $2; exit}' "$here/go.mod")"
if [[ -z "$k8s_version" || -z "$etcd_version" ]]; then
  echo "build.sh: could not read k8s.io/kubernetes / go.etcd.io/etcd/server/v3 versions from $here/go.mod" >&2
  exit 1
fi

cache_root="${WS_DRAIN_CACHE:-$repo/.cache}"
bin_dir="$cache_root/k8s/$k8s_version-$etcd_version"
log() { echo "[k8s-build $(date +%H:%M:%S)] $*" >&2; }

# Output is captured before matching: `cmd | grep -q` under pipefail fails at
# random when grep exits first and cmd dies of SIGPIPE.
k8s_ok() { # name
  [[ -x "$bin_dir/$1" ]] || return 1
  local out
  if [[ "$1" == kubectl ]]; then out="$("$bin_dir/kubectl" version --client 2>&1)" || return 1
  else out="$("$bin_dir/$1" --version 2>&1)" || return 1; fi
  [[ "$out" == *"$k8s_version"* ]]
}
etcd_ok() {
  [[ -x "$bin_dir/etcd" ]] || return 1
  local out
  out="$("$bin_dir/etcd" --version 2>&1)" && [[ "$out" == *"${etcd_version#v}"* ]]
}
# Running each binary's --version takes seconds on a busy machine; a stamp of
# the checked binaries' sizes and mtimes lets later runs skip the checks.
stamp() {
  local cmd
  for cmd in $($want_etcd && echo etcd) "${k8s_cmds[@]}"; do stat -c "$cmd %s %Y" "$bin_dir/$cmd" 2>/dev/null || echo "$cmd missing"; done
  echo "$k8s_version $etcd_version"
}
binaries_ok() {
  local stamp_file="$bin_dir/.verified-$(IFS=-; echo "${k8s_cmds[*]}")"
  [[ -f "$stamp_file" && "$(cat "$stamp_file")" == "$(stamp)" ]] && return 0
  ! $want_etcd || etcd_ok || return 1
  local cmd
  for cmd in "${k8s_cmds[@]}"; do k8s_ok "$cmd" || return 1; done
  stamp >"$stamp_file"
}

mkdir -p "$cache_root/k8s"
# One builder at a time: parallel test runs wait here instead of building twice.
exec 9>"$cache_root/k8s/.build.lock"
if command -v flock >/dev/null; then flock 9; fi

if binaries_ok; then
  log "reusing $bin_dir (${k8s_cmds[*]} $k8s_version$($want_etcd && echo ", etcd $etcd_version"))"
  echo "$bin_dir"
  exit 0
fi

command -v go >/dev/null || { echo "build.sh: go is not on PATH (need Go >= 1.24)" >&2; exit 1; }

staging="$(mktemp -d "$cache_root/k8s/.build.XXXXXX")"
trap 'rm -rf "$staging"' EXIT

# Release builds stamp these through hack/lib/version.sh; without them
# `kube-apiserver --version` says v0.0.0-master and clients see a bogus version.
minor="${k8s_version#v1.}"; minor="${minor%%.*}"
vpkg="k8s.io/component-base/version"
k8s_ldflags="-s -w -X $vpkg.gitVersion=$k8s_version -X $vpkg.gitMajor=1 -X $vpkg.gitMinor=$minor -X $vpkg.gitTreeState=clean -X $vpkg.buildDate=1970-01-01T00:00:00Z"

export CGO_ENABLED=0
cd "$here"
start_all=$SECONDS
build() { # name package ldflags
  local start=$SECONDS
  log "building $1 ($2) (minutes on a cold Go build cache)"
  nice -n 10 go build -trimpath -ldflags="$3" -o "$staging/$1" "$2"
  log "built $1 in $((SECONDS - start))s"
}
# Only what is missing or stale: adding --node to a cache built without it
# builds just the four node binaries.
mkdir -p "$bin_dir"
if $want_etcd && ! etcd_ok; then
  build etcd go.etcd.io/etcd/server/v3 "-s -w"
  mv -f "$staging/etcd" "$bin_dir/"
fi
for cmd in "${k8s_cmds[@]}"; do
  k8s_ok "$cmd" && continue
  if [[ "$cmd" == agnhost ]]; then
    # agnhost prints its version (`agnhost --version`) from main.Version.
    build agnhost k8s.io/kubernetes/test/images/agnhost "$k8s_ldflags -X main.Version=$k8s_version"
  else
    build "$cmd" "k8s.io/kubernetes/cmd/$cmd" "$k8s_ldflags"
  fi
  mv -f "$staging/$cmd" "$bin_dir/"
done
binaries_ok || { echo "build.sh: built binaries in $bin_dir fail their --version check" >&2; exit 1; }
log "done in $((SECONDS - start_all))s: $bin_dir"
echo "$bin_dir"
