import { defineConfig } from 'vitest/config';

// Three projects so a newcomer can run the fast ones alone:
//  unit      pure core, Kubernetes client on loopback, server over supertest/TLS, CLI, links in the docs  (seconds)
//  manifests `kubectl kustomize` renders of manifests/, the chart, alert rules (builds kubectl, Helm, promtool once)
//  lifecycle real processes: drain helper, WebSocket server and clients (a minute)
//  e2e       a real kube-apiserver + etcd built from source (first run builds them)
//  release   the README's quick start on a fresh clone; the release images (buildah, a local registry)
//  node      a real one-node cluster (kubelet, containerd, kube-proxy, registry) running ws-drain (root)
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/core/**/*.test.ts', 'test/kube/**/*.test.ts', 'test/server/**/*.test.ts', 'test/cli/**/*.test.ts', 'test/check/**/*.test.ts', 'test/docs/**/*.test.ts'], testTimeout: 20_000 } },
      { test: { name: 'manifests', include: ['test/manifests/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 3_600_000 } },
      { test: { name: 'lifecycle', include: ['test/lifecycle/**/*.test.ts'], testTimeout: 180_000, hookTimeout: 180_000, fileParallelism: false } },
      { test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], testTimeout: 300_000, hookTimeout: 3_600_000, fileParallelism: false } },
      { test: { name: 'release', include: ['test/release/**/*.test.ts'], testTimeout: 300_000, hookTimeout: 3_600_000, fileParallelism: false } },
      { test: { name: 'node', include: ['test/node/**/*.test.ts'], testTimeout: 300_000, hookTimeout: 3_600_000, fileParallelism: false } },
    ],
  },
});
