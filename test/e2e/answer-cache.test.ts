// The answer cache (src/server/answer-memo.ts) with the bytes a real API server
// sends: the pods of one ReplicaSet (generateName, the same labels and spec)
// are stored injected alike, and from the fourth on their answers come from the
// cache, which proves that in the API server's AdmissionReview the first "uid"
// is request.uid (the cache trusts that only after seeing it twice).
import { describe, expect, it } from 'vitest';
import { INJECTED_ANNOTATION, PLAN_ANNOTATION } from '../../src/core/types.js';
import { createPod, type StoredPod } from './controlplane/pods.js';
import { parsePrometheusText, sumSamples } from './controlplane/prometheus.js';
import { useWebhookCluster } from './controlplane/suite.js';

const NS = 'e2e-answer-cache';
const REPLICAS = 12;

const cluster = useWebhookCluster(NS);

async function webhookCounter(name: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${cluster.webhook.running.metricsPort}/metrics`);
  expect(res.status).toBe(200);
  return sumSamples(parsePrometheusText(await res.text()), name, {});
}

/** A pod as a Deployment's ReplicaSet creates it: no name, the template's labels and spec. */
function replica(): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'chat-5d8f9c7b6-',
      labels: { app: 'chat', 'pod-template-hash': '5d8f9c7b6' },
      annotations: { 'ws-drain/session-p95': '2m' },
    },
    spec: {
      containers: [
        { name: 'chat', image: 'registry.example/chat:1.4.2', ports: [{ name: 'ws', containerPort: 8080 }] },
        { name: 'exporter', image: 'registry.example/exporter:0.9', ports: [{ name: 'metrics', containerPort: 9100 }] },
      ],
    },
  };
}

describe('answer cache', () => {
  it(`injects ${REPLICAS} replicas alike, the fourth and later from the cache`, async () => {
    const hitsBefore = await webhookCounter('ws_drain_answer_cache_hits_total');
    const missesBefore = await webhookCounter('ws_drain_answer_cache_misses_total');
    const pods: StoredPod[] = [];
    // One at a time, as a ReplicaSet's slow start creates them. The API server's
    // managedFields carry the create's time to the second, so replicas created
    // in another second are other bytes: three more misses for each second the
    // loop crosses (the API server runs on this machine's clock).
    const start = Date.now();
    for (let i = 0; i < REPLICAS; i++) {
      const created = await createPod(cluster.cp, NS, replica());
      expect(created.response.status, created.message).toBe(201);
      pods.push(created.pod!);
    }
    expect(new Set(pods.map((p) => p.metadata.name)).size).toBe(REPLICAS);
    for (const pod of pods) {
      expect(pod.metadata.annotations?.[INJECTED_ANNOTATION]).toBeDefined();
      expect(pod.metadata.annotations).toEqual(pods[0]!.metadata.annotations);
      expect(pod.spec).toEqual(pods[0]!.spec);
    }
    expect(JSON.parse(pods[0]!.metadata.annotations![PLAN_ANNOTATION]!)).toMatchObject({ sessionP95Seconds: 120 });
    const secondsCrossed = Math.floor(Date.now() / 1000) - Math.floor(start / 1000);
    const misses = (await webhookCounter('ws_drain_answer_cache_misses_total')) - missesBefore;
    expect(misses).toBeGreaterThanOrEqual(3);
    expect(misses).toBeLessThanOrEqual(3 + 3 * secondsCrossed);
    expect((await webhookCounter('ws_drain_answer_cache_hits_total')) - hitsBefore).toBe(REPLICAS - misses);
  });
});
