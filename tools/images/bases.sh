# shellcheck shell=bash
# Local stand-ins for the public base images of the Dockerfiles, which CI
# machines cannot pull (sourced by tools/images/build.sh and
# tools/release/build.sh; docs/release.md):
#   node-build  ~ node:<NODE_VERSION>-bookworm-slim   this machine's platform
#   go-build    ~ golang:<GO_VERSION>                 this machine's platform
#   runtime     ~ gcr.io/distroless/cc-debian12       amd64 and arm64
#   node-runtime~ gcr.io/distroless/nodejs24-debian12  (examples/Dockerfile)
# Node comes from the npm packages node-linux-<arch> at the Dockerfile's
# NODE_VERSION, Go from this machine's toolchain (go env GOROOT), and the
# runtime's glibc/libstdc++ from Debian's packages of each architecture
# (apt-get download with a private state folder: the system's apt is untouched).
#
# The caller defines: repo, store (a cache folder), bh (buildah with its
# storage options) and log. Each base is tagged by its recipe (these functions)
# and versions, so it is built once per cache.

node_version="$(sed -n 's/^ARG NODE_VERSION=//p' "$repo/Dockerfile")"
npm_major=11 # the npm major that Node 24 ships with
host_arch="$(go env GOARCH)"

bases_exists() { bh inspect --type image "$1" >/dev/null 2>&1; }

# node_binary ARCH: path of the Node binary of the npm package node-linux-<arch>,
# the one tools/nodejs/run.sh fetches and CI's unit tests run on.
node_binary() { "$repo/tools/nodejs/run.sh" --arch "$1" --print; }
npm_package() {
  local tgz
  tgz="$(ls "$store/downloads"/npm-"$npm_major".*.tgz 2>/dev/null | tail -1 || true)"
  if [[ -z "$tgz" ]]; then
    (cd "$store/downloads" && npm pack --silent "npm@$npm_major" >/dev/null)
    tgz="$(ls "$store/downloads"/npm-"$npm_major".*.tgz | tail -1)"
  fi
  echo "$tgz"
}
# debian_libs ARCH: a folder with Debian bookworm's libc6, libgcc-s1 and
# libstdc++6 of that architecture unpacked (what distroless cc ships).
debian_libs() {
  local arch="$1" dir="$store/downloads/debian-libs-$1"
  if [[ ! -f "$dir/.done" ]]; then
    log "fetching Debian's libc6, libgcc-s1, libstdc++6 for $arch (apt-get download)"
    local apt="$store/downloads/apt-$arch"
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/debs" "$dir"
    local opts=(-o "APT::Architecture=$arch" -o "APT::Architectures::=$arch" -o "Dir::State::Lists=$apt/lists"
      -o "Dir::Cache=$apt/cache" -o "Dir::State::status=/dev/null" -o "APT::Sandbox::User=root")
    apt-get "${opts[@]}" -qq update >&2
    (cd "$apt/debs" && rm -f ./*.deb && apt-get "${opts[@]}" -qq download "libc6:$arch" "libgcc-s1:$arch" "libstdc++6:$arch" >&2)
    local deb; for deb in "$apt/debs"/*.deb; do dpkg-deb -x "$deb" "$dir"; done
    rm -rf "$dir/usr/share/doc" "$dir/usr/share/lintian" "$dir/usr/share/gcc" "$dir/usr/share/gdb"
    touch "$dir/.done"
  fi
  echo "$dir"
}

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
# apt-get and dpkg-deb with this machine's Debian sources and keys, as the
# Debian-based node image has them: the Dockerfile's jemalloc stage downloads
# Debian's package for the target architecture with them.
add_apt() { # rootfs
  local root="$1" f
  add_host_files "$root" /usr/bin/apt-get /usr/bin/apt-config /usr/bin/dpkg /usr/bin/dpkg-deb /usr/bin/gpgv
  # apt-key, the script apt runs gpgv through, and what it calls.
  add_host_files "$root" /usr/bin/apt-key /usr/bin/mktemp /bin/sed /bin/grep /usr/bin/find /usr/bin/head /usr/bin/cut /usr/bin/sort \
    /bin/readlink /usr/bin/basename /usr/bin/id /bin/chmod /bin/touch /usr/bin/cmp /usr/bin/stat /usr/bin/uniq /usr/bin/awk
  for f in /usr/lib/apt/methods/*; do
    [[ -e "$f" ]] || continue
    add_host_files "$root" "$f"
  done
  mkdir -p "$root/etc/apt/sources.list.d" "$root/etc/apt/apt.conf.d" "$root/etc/apt/preferences.d" "$root/etc/apt/trusted.gpg.d" "$root/usr/share/keyrings" \
    "$root/var/lib/dpkg" "$root/var/lib/apt/lists/partial" "$root/var/cache/apt/archives/partial"
  [[ -f /etc/apt/sources.list ]] && cp /etc/apt/sources.list "$root/etc/apt/"
  for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do [[ -f "$f" ]] && cp "$f" "$root/etc/apt/sources.list.d/"; done
  for f in /etc/apt/trusted.gpg.d/* /usr/share/keyrings/*; do [[ -f "$f" ]] && cp "$f" "$root$(dirname "$f")/"; done
  # The machine's apt settings (e.g. how it reaches the mirror), but not its
  # hooks: they run the machine's programs (PackageKit, appstream).
  for f in /etc/apt/apt.conf.d/*; do [[ -f "$f" ]] && ! grep -qi 'invoke' "$f" && cp "$f" "$root/etc/apt/apt.conf.d/"; done
  # dpkg's architecture tables, which apt reads.
  mkdir -p "$root/usr/share/dpkg" && cp -a /usr/share/dpkg/. "$root/usr/share/dpkg/"
  : >"$root/var/lib/dpkg/status"
  return 0
}
# Builds rootfs/ into an image FROM scratch for a platform, with a Containerfile tail.
image_from_rootfs() { # ref rootfs arch containerfile-lines
  local ctx; ctx="$(dirname "$2")"
  printf 'FROM scratch\nCOPY %s/ /\n%s\n' "$(basename "$2")" "$4" >"$ctx/Containerfile"
  # --timestamp 0: the same contents give the same image ID, so the layers
  # built on top of a rebuilt but unchanged base are reused.
  bh bud --quiet --isolation chroot --timestamp 0 --platform "linux/$3" -f "$ctx/Containerfile" -t "$1" "$ctx" >&2
}

# base_runtime ARCH ~ gcr.io/distroless/cc-debian12:nonroot
base_runtime() {
  local arch="$1" ref="localhost/ws-drain-local/runtime:$1-$bases_recipe"
  bases_exists "$ref" && { echo "$ref"; return; }
  log "building $ref"
  local tmp; tmp="$(mktemp -d)"; local root="$tmp/rootfs"
  mkdir -p "$root"
  cp -a "$(debian_libs "$arch")/." "$root/"
  rm -f "$root/.done"
  add_users "$root"
  image_from_rootfs "$ref" "$root" "$arch" $'USER 65532:65532\nENV PATH=/usr/bin:/bin'
  rm -rf "$tmp"
  echo "$ref"
}

# base_node_runtime ~ gcr.io/distroless/nodejs24-debian12:nonroot (this machine's platform)
base_node_runtime() {
  local ref="localhost/ws-drain-local/node-runtime:$node_version-$bases_recipe"
  bases_exists "$ref" && { echo "$ref"; return; }
  log "building $ref"
  local tmp; tmp="$(mktemp -d)"; local root="$tmp/rootfs"
  mkdir -p "$root/nodejs/bin"
  cp -a "$(debian_libs "$host_arch")/." "$root/"
  rm -f "$root/.done"
  cp "$(node_binary "$host_arch")" "$root/nodejs/bin/node"
  add_users "$root"
  image_from_rootfs "$ref" "$root" "$host_arch" $'USER 65532:65532\nENV PATH=/nodejs/bin:/usr/bin:/bin\nENTRYPOINT ["/nodejs/bin/node"]'
  rm -rf "$tmp"
  echo "$ref"
}

# base_node_build ~ node:<NODE_VERSION>-bookworm-slim (this machine's platform)
base_node_build() {
  local ref="localhost/ws-drain-local/node-build:$node_version-$bases_recipe"
  bases_exists "$ref" && { echo "$ref"; return; }
  log "building $ref"
  local tmp; tmp="$(mktemp -d)"; local root="$tmp/rootfs"
  mkdir -p "$root/usr/local/bin" "$root/usr/local/lib/node_modules/npm"
  cp "$(node_binary "$host_arch")" "$root/usr/local/bin/node"
  for lib in $(ldd "$root/usr/local/bin/node" | grep -o '/[^ ]*'); do mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"; done
  tar -xzf "$(npm_package)" -C "$root/usr/local/lib/node_modules/npm" --strip-components=1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  add_host_files "$root" /bin/sh /bin/dash /bin/bash /usr/bin/env /bin/cat /bin/ls /bin/mkdir /bin/rm /bin/cp /bin/mv /bin/ln /usr/bin/tr /usr/bin/wc /usr/bin/dirname /bin/tar /bin/gzip
  add_apt "$root"
  add_users "$root"
  # The machine's CA bundle: CI machines may reach the npm registry through a
  # TLS-inspecting proxy whose CA only the system bundle holds.
  image_from_rootfs "$ref" "$root" "$host_arch" $'ENV PATH=/usr/local/bin:/usr/bin:/bin HOME=/root NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt\nCMD ["node"]'
  rm -rf "$tmp"
  echo "$ref"
}

# base_go_build ~ golang:<GO_VERSION> (this machine's platform; cross-compiles)
base_go_build() {
  local go_version; go_version="$(go env GOVERSION)"
  local ref="localhost/ws-drain-local/go-build:${go_version#go}-$bases_recipe"
  bases_exists "$ref" && { echo "$ref"; return; }
  log "building $ref"
  local tmp; tmp="$(mktemp -d)"; local root="$tmp/rootfs"
  mkdir -p "$root/usr/local"
  # The toolchain on PATH, wherever it is installed, at the golang image's path.
  cp -a "$(go env GOROOT)" "$root/usr/local/go"
  add_host_files "$root" /bin/sh /bin/dash /bin/bash /usr/bin/env /bin/cat /bin/ls /bin/mkdir /bin/rm /bin/cp /bin/mv /usr/bin/tr /usr/bin/wc /usr/bin/dirname /bin/sed
  add_users "$root"
  image_from_rootfs "$ref" "$root" "$host_arch" $'ENV PATH=/usr/local/go/bin:/usr/bin:/bin HOME=/root GOPATH=/go GOTOOLCHAIN=local'
  rm -rf "$tmp"
  echo "$ref"
}

# Bases are rebuilt when their recipe (the functions above) changes.
bases_recipe="$(declare -f node_binary npm_package debian_libs add_host_files add_apt add_users image_from_rootfs base_runtime base_node_runtime base_node_build base_go_build | sha256sum | cut -c1-8)"
