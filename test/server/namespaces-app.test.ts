// The webhook's use of namespace state, over the real request listener
// (supertest): /mutate and /validate read the namespace cache (here an
// in-memory NamespaceCache; the informer behind it runs against a real API
// server in test/e2e/namespaces.test.ts), /readyz waits for its first sync,
// and /validate judges Namespaces applied with ws-drain/ annotations.
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, type NamespaceView } from '../../src/core/index.js';
import { createApp } from '../../src/server/app.js';
import { createMetrics } from '../../src/server/metrics.js';
import type { NamespaceCache } from '../../src/server/namespaces.js';
import { capturingLogger } from './review-fixtures.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- response bodies in assertions

function cacheOf(namespaces: NamespaceView[], synced = true): NamespaceCache & { isSynced: boolean } {
  const byName = new Map(namespaces.map((n) => [n.name, n]));
  const cache = {
    isSynced: synced,
    view: (name: string) => byName.get(name) ?? { name, known: false },
    synced: () => cache.isSynced,
    stop: async () => {},
  };
  return cache;
}

function setup(cache: NamespaceCache) {
  const { logger } = capturingLogger();
  return createApp({ config: DEFAULT_CONFIG, logger, metrics: createMetrics({ defaultMetrics: false }), namespaces: cache });
}

const CHAT: NamespaceView = { name: 'chat', labels: { 'ws-drain.io/inject': 'enabled' }, annotations: { 'ws-drain/prestop-delay': '40s' } };

function review(resource: { group: string; resource: string; kind: string }, object: unknown, opts: { namespace?: string; oldObject?: unknown; operation?: string } = {}): Json {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'u-1',
      kind: { group: resource.group, version: 'v1', kind: resource.kind },
      resource: { group: resource.group, version: 'v1', resource: resource.resource },
      ...(opts.namespace ? { namespace: opts.namespace } : {}),
      operation: opts.operation ?? 'CREATE',
      object,
      ...(opts.oldObject ? { oldObject: opts.oldObject } : {}),
    },
  };
}

const POD = { group: '', resource: 'pods', kind: 'Pod' };
const NAMESPACE = { group: '', resource: 'namespaces', kind: 'Namespace' };
const plainPod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web' }, spec: { containers: [{ name: 'web', image: 'web:1', ports: [{ containerPort: 8080 }] }] } };

function patchOf(body: Json): Array<{ path: string; value: unknown }> {
  return JSON.parse(Buffer.from(body.response.patch as string, 'base64').toString('utf8')) as Array<{ path: string; value: unknown }>;
}

describe('namespace state in admission', () => {
  it('/mutate: a pod without annotations in a namespace labelled enabled is injected with the namespace defaults', async () => {
    const app = setup(cacheOf([CHAT]));
    const res = await request(app).post('/mutate').send(review(POD, plainPod, { namespace: 'chat' })).expect(200);
    const plan = patchOf(res.body as Json).find((op) => op.path === '/metadata/annotations')?.value as Record<string, string>;
    expect(JSON.parse(plan['ws-drain/plan']!)).toMatchObject({ prestopDelaySeconds: 40, from: { enabled: 'namespace', 'prestop-delay': 'namespace' } });
  });

  it('/mutate: a namespace not in the cache yet applies nothing and says so', async () => {
    const app = setup(cacheOf([]));
    const res = await request(app).post('/mutate').send(review(POD, plainPod, { namespace: 'new' })).expect(200);
    expect((res.body as Json).response).toEqual({ uid: 'u-1', allowed: true, warnings: [expect.stringContaining('namespace new not yet read by ws-drain')] });
  });

  it('/validate: a Deployment in an opted-in namespace is judged with the namespace\'s opt-in and defaults', async () => {
    const app = setup(cacheOf([{ ...CHAT, annotations: { 'ws-drain/enforce': 'reject' } }]));
    const deployment = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'chat' }, spec: { template: { metadata: {}, spec: plainPod.spec } } };
    const res = await request(app).post('/validate').send(review({ group: 'apps', resource: 'deployments', kind: 'Deployment' }, deployment, { namespace: 'chat' })).expect(200);
    const response = (res.body as Json).response as Json;
    expect(response.allowed).toBe(false);
    expect(response.status.message).toContain('(defaults from namespace chat: ws-drain/enforce)');
  });

  it('/validate: a Namespace change bringing in a bad value is denied; one already there only warns', async () => {
    const app = setup(cacheOf([]));
    const bad = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'chat', annotations: { 'ws-drain/cleanup': 'ten seconds' } } };
    const denied = await request(app).post('/validate').send(review(NAMESPACE, bad)).expect(200);
    expect((denied.body as Json).response).toMatchObject({ allowed: false, status: { code: 422, message: expect.stringContaining('ws-drain/cleanup: "ten seconds" is not a duration') } });
    const relabelled = { ...bad, metadata: { ...bad.metadata, labels: { team: 'a' } } };
    const allowed = await request(app).post('/validate').send(review(NAMESPACE, relabelled, { operation: 'UPDATE', oldObject: bad })).expect(200);
    expect((allowed.body as Json).response).toMatchObject({ allowed: true, warnings: [expect.stringContaining('ws-drain/cleanup ignored by its pods')] });
  });

  it('/readyz is 503 until the namespace cache has synced, then 200', async () => {
    const cache = cacheOf([], false);
    const app = setup(cache);
    const before = await request(app).get('/readyz').expect(503);
    expect((before.body as Json).status).toBe('namespaces not synced yet');
    cache.isSynced = true;
    await request(app).get('/readyz').expect(200);
  });
});
