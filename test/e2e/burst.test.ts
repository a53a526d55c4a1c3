// 500 pod creations through the real API server, 20 at a time. Prints the API
// server's own view of the webhook's latency (its admission histogram); the
// assertion is only that every pod was injected: timings are reported, not
// judged (bench/ is where numbers are held to limits).
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { INJECTED_ANNOTATION } from '../../src/core/types.js';
import { createPod, optedInPod } from './controlplane/pods.js';
import { histogramDelta, histogramQuantile, parsePrometheusText, readHistogram, type Histogram } from './controlplane/prometheus.js';
import { useWebhookCluster } from './controlplane/suite.js';

const NS = 'e2e-burst';
const PODS = 500;
const CONCURRENCY = 20;
const HISTOGRAM = 'apiserver_admission_webhook_admission_duration_seconds';

const cluster = useWebhookCluster(NS, { logLevel: 'warn' });

async function apiserverHistogram(): Promise<Histogram> {
  const res = await cluster.cp.request('GET', '/metrics');
  expect(res.status).toBe(200);
  return readHistogram(parsePrometheusText(res.body), HISTOGRAM, { name: 'inject.ws-drain.io', type: 'admit', operation: 'CREATE' });
}

/** The webhook's own view: time spent inside the handler, without TLS and queueing. */
async function handlerHistogram(): Promise<Histogram> {
  const res = await fetch(`http://127.0.0.1:${cluster.webhook.running.metricsPort}/metrics`);
  expect(res.status).toBe(200);
  return readHistogram(parsePrometheusText(await res.text()), 'ws_drain_admission_duration_seconds', { outcome: 'mutated' });
}

const PodList = z.object({
  items: z.array(z.object({ metadata: z.object({ name: z.string(), annotations: z.record(z.string(), z.string()).optional() }) })),
});

describe('burst', () => {
  it(`injects ${PODS} pods created ${CONCURRENCY} at a time`, async () => {
    const before = await apiserverHistogram();
    const handlerBefore = await handlerHistogram();
    const failures: string[] = [];
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (let i = next++; i < PODS; i = next++) {
          const created = await createPod(cluster.cp, NS, optedInPod(`burst-${i}`, { 'ws-drain/session-p95': '5m' }));
          if (created.response.status !== 201) failures.push(`burst-${i}: ${created.response.status} ${created.message ?? ''}`);
        }
      }),
    );
    const wallSeconds = (performance.now() - started) / 1000;
    const delta = histogramDelta(await apiserverHistogram(), before);
    const handler = histogramDelta(await handlerHistogram(), handlerBefore);

    const ms = (s: number): string => (Number.isNaN(s) ? 'n/a' : (s * 1000).toFixed(2));
    const row = (h: Histogram): Record<string, string | number> => ({
      calls: h.count,
      'p50 ms': ms(histogramQuantile(0.5, h)),
      'p99 ms': ms(histogramQuantile(0.99, h)),
      'mean ms': ms(h.count > 0 ? h.sum / h.count : NaN),
    });
    // Quantiles are interpolated inside histogram buckets (as histogram_quantile
    // does); the API server's buckets are coarse (5/25/100/500 ms), the mean is exact.
    console.table({
      'API server round trip (apiserver_admission_webhook_admission_duration_seconds)': row(delta),
      'inside the webhook (ws_drain_admission_duration_seconds, mutated)': row(handler),
    });
    console.log(`${PODS} pod creates, ${CONCURRENCY} concurrent: ${wallSeconds.toFixed(1)} s, ${(PODS / wallSeconds).toFixed(0)} pods/s end to end`);

    expect(failures).toEqual([]);
    expect(delta.count).toBeGreaterThanOrEqual(PODS);
    const list = await cluster.cp.request('GET', `/api/v1/namespaces/${NS}/pods`);
    const pods = PodList.parse(JSON.parse(list.body)).items.filter((p) => p.metadata.name.startsWith('burst-'));
    expect(pods).toHaveLength(PODS);
    expect(pods.filter((p) => p.metadata.annotations?.[INJECTED_ANNOTATION] === undefined).map((p) => p.metadata.name)).toEqual([]);
  });
});
