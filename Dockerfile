# syntax=docker/dockerfile:1
#
# Two images from one file:
#   docker build --target webhook -t ghcr.io/ws-drain/ws-drain-webhook:0.1.0 .
#   docker build --target helper  -t ghcr.io/ws-drain/ws-drain-helper:0.1.0 .
# The build steps are the same commands CI runs (.ci/run); test/manifests
# checks that they stay in step.

ARG NODE_VERSION=20
ARG GO_VERSION=1.26
ARG VERSION=0.1.0
# Base images. Release builds use these defaults; CI machines cannot pull
# public images, so tools/images/build.sh passes local equivalents built on the
# machine (see docs/real-node.md) and builds this same file.
ARG NODE_BUILD_IMAGE=node:${NODE_VERSION}-bookworm-slim
ARG GO_BUILD_IMAGE=golang:${GO_VERSION}
ARG NODE_RUNTIME_IMAGE=gcr.io/distroless/nodejs${NODE_VERSION}-debian12:nonroot

# ---- TypeScript build: compile, then drop dev dependencies ----------------
FROM ${NODE_BUILD_IMAGE} AS build
WORKDIR /src
# Manifests first, so the dependency layer is reused while only sources change.
COPY package.json package-lock.json ./
# Cache mounts keep npm's and Go's download/build caches between builds (the
# layers themselves stay reproducible); BuildKit and buildah both support them.
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# npm run build also bundles the CLI into dist/bundle (scripts/bundle.ts), what the image runs.
COPY scripts/bundle.ts ./scripts/
RUN npm run build
RUN npm prune --omit=dev --no-audit --no-fund

# ---- Go drain helper: static binary, standard library only ----------------
FROM ${GO_BUILD_IMAGE} AS helper-build
# helper/build.sh stamps VERSION into the binary (`ws-drain-helper version`).
ARG VERSION
WORKDIR /src
COPY helper ./helper
RUN --mount=type=cache,target=/root/.cache/go-build CGO_ENABLED=0 helper/build.sh

# ---- target helper: nothing but the binary ---------------------------------
# Runs as the init container of every opted-in pod: copies itself into the
# shared emptyDir so the pod's own (possibly distroless) image can run it.
FROM scratch AS helper
ARG VERSION
LABEL org.opencontainers.image.title="ws-drain-helper" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=helper-build /src/helper/bin/ws-drain-helper /ws-drain-helper
USER 65532:65532
ENTRYPOINT ["/ws-drain-helper","install","/ws-drain"]

# ---- target webhook (default): Node runtime, no shell, non-root ------------
FROM ${NODE_RUNTIME_IMAGE} AS webhook
ARG VERSION
LABEL org.opencontainers.image.title="ws-drain-webhook" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production
WORKDIR /app
# Only what runs: compiled JS, production dependencies, and package.json
# (its "type": "module" makes Node load dist/ as ES modules).
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
USER 65532:65532
EXPOSE 8443 9090
# The entrypoint is the ws-drain CLI, so `docker run IMAGE plan ...` works and
# the Deployment's args are plain CLI arguments (serve --port=8443 ...). It is the
# bundle: a third of the start time of dist/cli/main.js (docs/performance.md).
ENTRYPOINT ["/nodejs/bin/node","/app/dist/bundle/main.js"]
CMD ["serve"]
