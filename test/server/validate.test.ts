// POST /validate over the real request listener (supertest): the envelope,
// which requests are judged, and the HTTP edge shared with /mutate.
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../src/core/index.js';
import { createApp } from '../../src/server/app.js';
import { createMetrics } from '../../src/server/metrics.js';
import { capturingLogger } from './review-fixtures.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- response bodies in assertions

function setup() {
  const { logger, lines } = capturingLogger();
  const metrics = createMetrics({ defaultMetrics: false });
  return { app: createApp({ config: DEFAULT_CONFIG, logger, metrics }), metrics, lines };
}

const deployment = (annotations: Record<string, string>) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'chat', namespace: 'shop' },
  spec: { template: { metadata: { annotations }, spec: { containers: [{ name: 'chat', image: 'chat:1', ports: [{ containerPort: 8080 }] }] } } },
});

function review(opts: { object: unknown; oldObject?: unknown; operation?: string; group?: string; resource?: string; subResource?: string }): Json {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'u-1',
      kind: { group: opts.group ?? 'apps', version: 'v1', kind: 'Deployment' },
      resource: { group: opts.group ?? 'apps', version: 'v1', resource: opts.resource ?? 'deployments' },
      ...(opts.subResource ? { subResource: opts.subResource } : {}),
      name: 'chat',
      namespace: 'shop',
      operation: opts.operation ?? 'CREATE',
      object: opts.object,
      ...(opts.oldObject ? { oldObject: opts.oldObject } : {}),
    },
  };
}

describe('POST /validate', () => {
  it('denies a bad template with the pod message, status 422 Invalid, no patch', async () => {
    const { app } = setup();
    const res = await request(app).post('/validate?timeout=5s').send(review({ object: deployment({ 'ws-drain/sesion-p95': '1m' }) })).expect(200);
    const body = res.body as Json;
    expect(body.response).toEqual({
      uid: 'u-1',
      allowed: false,
      status: { code: 422, reason: 'Invalid', message: 'unknown annotation "ws-drain/sesion-p95": did you mean ws-drain/session-p95?' },
    });
  });

  it('allows a good template with warnings and never a patch', async () => {
    const { app, metrics } = setup();
    const res = await request(app).post('/validate').send(review({ object: deployment({ 'ws-drain/session-p95': '1m' }) })).expect(200);
    const body = res.body as Json;
    expect(body.response).toEqual({ uid: 'u-1', allowed: true, warnings: ['ws-drain: terminationGracePeriodSeconds raised from 30 to 117 for the drain plan'] });
    const requests = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === 'ws_drain_admission_requests_total');
    expect(requests?.values.find((v) => v.labels['outcome'] === 'validated')?.value).toBe(1);
    const injections = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === 'ws_drain_injections_total');
    expect(injections?.values[0]?.value ?? 0).toBe(0);
  });

  it.each([
    ['a DELETE', { operation: 'DELETE' }],
    ['the scale subresource', { subResource: 'scale' }],
    ['a resource it does not judge', { group: '', resource: 'configmaps' }],
  ])('passes %s through, allowed without judging', async (_, opts) => {
    const { app } = setup();
    const res = await request(app).post('/validate').send(review({ object: deployment({ 'ws-drain/sesion-p95': '1m' }), ...opts })).expect(200);
    expect((res.body as Json).response).toEqual({ uid: 'u-1', allowed: true });
  });

  it('judges CronJobs and Argo Rollouts', async () => {
    const { app } = setup();
    const cron = { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'c' }, spec: { jobTemplate: { spec: { template: deployment({ 'ws-drain/session-p95': '1m', 'ws-drain/mode': 'fast' }).spec.template } } } };
    const r1 = await request(app).post('/validate').send(review({ object: cron, group: 'batch', resource: 'cronjobs' })).expect(200);
    expect((r1.body as Json).response.status.message).toContain('ws-drain/mode: "fast" is not accepted');
    const rollout = { ...deployment({ 'ws-drain/session-p95': '1m', 'ws-drain/mode': 'fast' }), apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout' };
    const r2 = await request(app).post('/validate').send(review({ object: rollout, group: 'argoproj.io', resource: 'rollouts' })).expect(200);
    expect((r2.body as Json).response.allowed).toBe(false);
  });

  it('shares the HTTP edge of /mutate: not JSON is 400, GET is 405', async () => {
    const { app } = setup();
    await request(app).post('/validate').set('content-type', 'application/json').send('{nope').expect(400);
    await request(app).get('/validate').expect(405);
  });
});
