// 500 pod creations through the real API server, 20 at a time. Prints the API
// server's own view of the webhook's latency (its admission histogram); the
// assertion is only that every pod was injected: timings are reported, not
// judged (bench/ is where numbers are held to limits).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { INJECTED_ANNOTATION } from '../../src/core/types.js';
import { startControlPlane, type ControlPlane } from './controlplane/controlplane.js';
import { createNamespace, createPod, optedInPod, waitForInjectionActive } from './controlplane/pods.js';
import { histogramDelta, histogramQuantile, parsePrometheusText, readHistogram, type Histogram } from './controlplane/prometheus.js';
import { startRegisteredWebhook, type WsDrainWebhook } from './controlplane/webhook.js';

const NS = 'e2e-burst';
const PODS = 500;
const CONCURRENCY = 20;
const HISTOGRAM = 'apiserver_admission_webhook_admission_duration_seconds';

let cp: ControlPlane;
let webhook: WsDrainWebhook;

beforeAll(async () => {
  cp = await startControlPlane();
  webhook = await startRegisteredWebhook(cp, { logLevel: 'warn' });
  await createNamespace(cp, NS);
  await waitForInjectionActive(cp, NS);
});

afterAll(async () => {
  await webhook?.stop();
  await cp?.stop();
});

async function webhookHistogram(): Promise<Histogram> {
  const res = await cp.request('GET', '/metrics');
  expect(res.status).toBe(200);
  return readHistogram(parsePrometheusText(res.body), HISTOGRAM, { name: 'inject.ws-drain.io', type: 'admit', operation: 'CREATE' });
}

const PodList = z.object({
  items: z.array(z.object({ metadata: z.object({ name: z.string(), annotations: z.record(z.string(), z.string()).optional() }) })),
});

describe('burst', () => {
  it(`injects ${PODS} pods created ${CONCURRENCY} at a time`, async () => {
    const before = await webhookHistogram();
    const failures: string[] = [];
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (let i = next++; i < PODS; i = next++) {
          const created = await createPod(cp, NS, optedInPod(`burst-${i}`, { 'ws-drain/session-p95': '5m' }));
          if (created.response.status !== 201) failures.push(`burst-${i}: ${created.response.status} ${created.message ?? ''}`);
        }
      }),
    );
    const wallSeconds = (performance.now() - started) / 1000;
    const delta = histogramDelta(await webhookHistogram(), before);

    const ms = (s: number): string => (Number.isNaN(s) ? 'n/a' : (s * 1000).toFixed(1));
    console.table({
      'API server → ws-drain webhook (apiserver_admission_webhook_admission_duration_seconds)': {
        calls: delta.count,
        'p50 ms': ms(histogramQuantile(0.5, delta)),
        'p99 ms': ms(histogramQuantile(0.99, delta)),
        'mean ms': ms(delta.count > 0 ? delta.sum / delta.count : NaN),
        'pods/s (create, end to end)': (PODS / wallSeconds).toFixed(0),
        'wall s': wallSeconds.toFixed(1),
      },
    });

    expect(failures).toEqual([]);
    expect(delta.count).toBeGreaterThanOrEqual(PODS);
    const list = await cp.request('GET', `/api/v1/namespaces/${NS}/pods`);
    const pods = PodList.parse(JSON.parse(list.body)).items.filter((p) => p.metadata.name.startsWith('burst-'));
    expect(pods).toHaveLength(PODS);
    expect(pods.filter((p) => p.metadata.annotations?.[INJECTED_ANNOTATION] === undefined).map((p) => p.metadata.name)).toEqual([]);
  });
});
