# Sourced by tools/<tool>/build.sh: builds one command of a Go module pinned in
# that directory's go.mod (or in $GO_TOOL_MODULE_DIR's, for a tool that shares
# another tool's module) into
#   ${WS_DRAIN_CACHE:-<repo>/.cache}/<name>/<version>/<name>
# and reuses it on later runs. Progress goes to stderr; the binary's path is
# the last stdout line, so callers can do: BIN=$(tools/<tool>/build.sh | tail -n1)
#
#   build_go_tool NAME MODULE PACKAGE [LDFLAGS [TAGS]]
# LDFLAGS may use $version (expanded here), e.g. "-X example.com/v.Version=\$version".
# TAGS (go build -tags) become part of the cache key: <version>-<tags>.

build_go_tool() {
  local name="$1" module="$2" package="$3" ldflags_template="${4:-}" tags="${5:-}"
  local here repo cache version out_dir bin
  here="$(cd "${GO_TOOL_MODULE_DIR:-$(dirname "${BASH_SOURCE[1]}")}" && pwd)"
  repo="$(cd "$here/../.." && pwd)"
  cache="${WS_DRAIN_CACHE:-$repo/.cache}"

  # The version comes from go.mod so there is exactly one place to bump it.
  version="$(awk -v m="$module" '$1 == m && $2 ~ /^v/ { print $2; exit }' "$here/go.mod")"
  if [[ -z "$version" ]]; then
    echo "tools/$(basename "$here")/build.sh: $module not found in $here/go.mod" >&2
    return 1
  fi
  out_dir="$cache/$name/$version${tags:+-${tags//,/-}}"
  bin="$out_dir/$name"
  mkdir -p "$out_dir"

  # One builder at a time: parallel test runs wait here instead of building twice.
  exec 8>"$out_dir/.build.lock"
  if command -v flock >/dev/null 2>&1; then flock 8; fi

  if [[ -x "$bin" ]]; then
    echo "$name $version: reusing $bin" >&2
    echo "$bin"
    return 0
  fi
  if ! command -v go >/dev/null 2>&1; then
    echo "tools/$(basename "$here")/build.sh: 'go' is not on PATH; install Go (see $here/go.mod for the minimum version)" >&2
    return 1
  fi

  echo "$name $version: building into $out_dir (first run downloads modules and takes minutes; later runs reuse the binary)" >&2
  local start=$SECONDS tmp ldflags
  ldflags="-s -w ${ldflags_template//\$version/$version}"
  # Build to a temporary name and rename, so an interrupted build never leaves
  # a half-written binary that a later run would trust.
  tmp="$(mktemp "$out_dir/$name.XXXXXX")"
  # shellcheck disable=SC2064 # expand now: $tmp is local
  trap "rm -f '$tmp'" EXIT
  (
    cd "$here"
    CGO_ENABLED=0 nice -n 10 go build -trimpath -tags "$tags" -ldflags "$ldflags" -o "$tmp" "$package"
  )
  chmod 0755 "$tmp"
  mv -f "$tmp" "$bin"
  trap - EXIT
  echo "$name $version: built in $((SECONDS - start))s" >&2
  echo "$bin"
}
