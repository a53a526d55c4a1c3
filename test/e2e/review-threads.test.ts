// Large reviews answered on a review thread, through the real API server:
// the thread's answer is one the API server applies, and a 429 with
// Retry-After (the webhook's answer when its review threads are busy) is
// retried by the API server's webhook client within timeoutSeconds, not
// failed (src/server/review-pool.ts, docs/limits.md).
import { request as httpsRequest } from 'node:https';
import { BroadcastChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { INIT_CONTAINER_NAME, INJECTED_ANNOTATION } from '../../src/core/types.js';
import { admissionReview, getMetrics } from '../server/review-fixtures.js';
import { createPod, eventually, getPod } from './controlplane/pods.js';
import { useWebhookCluster } from './controlplane/suite.js';

const NS = 'e2e-review-threads';

/** A pod whose AdmissionReview is over 64 KiB: 1,000 containers, one of them (c1) drained. */
function bigPod(name: string): object {
  const containers = Array.from({ length: 1000 }, (_, i) => ({ name: `c${i}`, image: 'registry.example/app:1', ports: [{ containerPort: 8080 }] }));
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, annotations: { 'ws-drain/session-p95': '2m', 'ws-drain/containers': 'c1' } }, spec: { containers } };
}

// Held on its thread by test/server/failing-review-thread.ts until 'release' is posted on GATE; larger
// than any review the API server sends here, so while it is held the queue (room for it alone) is full.
const GATE = 'ws-drain-test-gate';
const gated = JSON.stringify(admissionReview({ uid: 'gated', object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'g', namespace: NS }, spec: { containers: Array.from({ length: 15000 }, (_, i) => ({ name: `c${i}`, image: "registry.example/gated:1" })) } } }));

const cluster = useWebhookCluster(NS, {
  reviewPool: { entry: new URL('../server/failing-review-thread.ts', import.meta.url), maxPendingBytes: Buffer.byteLength(gated) + 1 },
});

async function counter(series: string): Promise<number> {
  const line = (await getMetrics(cluster.webhook!.running.metricsPort!)).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

describe('large reviews on a review thread, through the API server', () => {
  it('a 1,000-container pod is injected from the thread\'s answer', async () => {
    const created = await createPod(cluster.cp, NS, bigPod('big'));
    expect(created.response.status, created.message).toBe(201);
    const stored = await getPod(cluster.cp, NS, 'big');
    expect(stored?.metadata.annotations?.[INJECTED_ANNOTATION]).toBeDefined();
    expect(stored?.spec.initContainers?.map((c) => c.name)).toEqual([INIT_CONTAINER_NAME]);
    expect(await counter('ws_drain_review_thread_jobs_total{result="answered"}')).toBeGreaterThanOrEqual(1);
  });

  it('busy (429, Retry-After: 1) is retried by the API server: the pod is created and injected once the thread is free', async () => {
    const gate = new BroadcastChannel(GATE);
    const held = new Promise((resolve) => (gate.onmessage = resolve));
    // Straight to the webhook: the review that holds the queue.
    const holding = new Promise<number>((resolve, reject) => {
      const req = httpsRequest(cluster.webhook!.url, { method: 'POST', ca: cluster.webhook!.caPem, headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(gated);
    });
    await held;
    const busyBefore = await counter('ws_drain_review_thread_jobs_total{result="busy"}');
    const creating = createPod(cluster.cp, NS, bigPod('retried'));
    // The API server's first call was answered busy; then the thread is freed for its retry.
    await eventually('the API server called and was answered busy', async () => ((await counter('ws_drain_review_thread_jobs_total{result="busy"}')) > busyBefore ? true : undefined));
    gate.postMessage('release');
    gate.close();
    expect(await holding).toBe(200);
    const created = await creating;
    expect(created.response.status, created.message).toBe(201);
    const stored = await getPod(cluster.cp, NS, 'retried');
    expect(stored?.metadata.annotations?.[INJECTED_ANNOTATION]).toBeDefined();
  });
});
