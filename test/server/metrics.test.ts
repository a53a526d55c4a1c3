// ws_drain_denials_total: denials by the request's namespace, for the
// dashboard and the WsDrainPodsDenied alert, with a bounded number of series
// (the namespace in a review is whatever the caller sends).
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../src/core/index.js';
import { createApp } from '../../src/server/app.js';
import { MAX_DENIAL_NAMESPACES, OTHER_NAMESPACES, createMetrics } from '../../src/server/metrics.js';
import { admissionReview, capturingLogger, optedInPod } from './review-fixtures.js';

async function denialsByNamespace(metrics: ReturnType<typeof createMetrics>): Promise<Map<string, number>> {
  const m = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === 'ws_drain_denials_total');
  return new Map((m?.values ?? []).map((v) => [String(v.labels['request_namespace']), v.value]));
}

describe('ws_drain_denials_total', () => {
  it('counts a denied pod under its namespace, and neither a mutated pod nor a bad request', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const app = createApp({ config: DEFAULT_CONFIG, logger: capturingLogger().logger, metrics });
    const bad = optedInPod({ 'ws-drain/session-p95': 'five minutes' });
    await request(app).post('/mutate').send(admissionReview({ uid: 'd1', namespace: 'shop', object: bad })).expect(200);
    await request(app).post('/mutate').send(admissionReview({ uid: 'd2', namespace: 'shop', object: bad })).expect(200);
    await request(app).post('/mutate').send(admissionReview({ uid: 'd3', namespace: 'chat', object: bad })).expect(200);
    await request(app).post('/mutate').send(admissionReview({ uid: 'ok', namespace: 'quiet', object: optedInPod() })).expect(200);
    await request(app).post('/mutate').set('content-type', 'application/json').send('{').expect(400);
    expect(Object.fromEntries(await denialsByNamespace(metrics))).toEqual({ shop: 2, chat: 1 });
  });

  it('counts workload templates denied by /validate too', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const app = createApp({ config: DEFAULT_CONFIG, logger: capturingLogger().logger, metrics });
    const review = {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: 'v1',
        kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
        resource: { group: 'apps', version: 'v1', resource: 'deployments' },
        name: 'chat',
        namespace: 'team-a',
        operation: 'CREATE',
        object: {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'chat', namespace: 'team-a' },
          spec: { template: { metadata: { annotations: { 'ws-drain/session-p95': 'soon' } }, spec: { containers: [{ name: 'chat', image: 'chat:1' }] } } },
        },
      },
    };
    const res = await request(app).post('/validate').send(review).expect(200);
    expect((res.body as { response: { allowed: boolean } }).response.allowed).toBe(false);
    expect(Object.fromEntries(await denialsByNamespace(metrics))).toEqual({ 'team-a': 1 });
  });

  it(`keeps at most ${MAX_DENIAL_NAMESPACES} namespaces apart and counts the rest as ${OTHER_NAMESPACES}`, async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    for (let i = 0; i < MAX_DENIAL_NAMESPACES + 250; i++) metrics.countDenial(`ns-${i}`);
    // A namespace seen before the cap keeps its own series afterwards.
    metrics.countDenial('ns-0');
    const series = await denialsByNamespace(metrics);
    expect(series.size).toBe(MAX_DENIAL_NAMESPACES + 1);
    expect(series.get(OTHER_NAMESPACES)).toBe(250);
    expect(series.get('ns-0')).toBe(2);
    expect(series.get(`ns-${MAX_DENIAL_NAMESPACES - 1}`)).toBe(1);
    expect(series.has(`ns-${MAX_DENIAL_NAMESPACES}`)).toBe(false);
  });
});
