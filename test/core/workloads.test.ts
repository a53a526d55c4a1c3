import { describe, expect, it } from 'vitest';
import { decideWorkload } from '../../src/core/workloads.js';
import { CONFIG, container, tcp, type Json } from './pod-builders.js';

const template = (annotations: Record<string, string> = { 'ws-drain/session-p95': '2m' }): Json => ({
  metadata: { labels: { app: 'chat' }, annotations },
  spec: { containers: [container('chat', { ports: [tcp(8080)] })] },
});
const workload = (apiVersion: string, kind: string, spec: Json, namespace?: string): Json => ({
  apiVersion,
  kind,
  metadata: namespace ? { name: 'chat', namespace } : { name: 'chat' },
  spec,
});

describe('decideWorkload', () => {
  it.each([
    ['apps/v1', 'Deployment'],
    ['apps/v1', 'StatefulSet'],
    ['apps/v1', 'DaemonSet'],
    ['apps/v1', 'ReplicaSet'],
    ['batch/v1', 'Job'],
  ])('%s %s: the pod template is mutated, the rest kept', (apiVersion, kind) => {
    const doc = workload(apiVersion, kind, { replicas: 2, selector: { matchLabels: { app: 'chat' } }, template: template() });
    const r = decideWorkload(doc, CONFIG);
    if (r.kind !== 'decided' || r.decision.kind !== 'mutate') throw new Error(JSON.stringify(r));
    const out = r.doc as { spec: { replicas: number; template: { metadata: Json; spec: Json } } };
    expect(out.spec.replicas).toBe(2);
    expect(out.spec.template.metadata['labels']).toEqual({ app: 'chat' });
    expect((out.spec.template.metadata['annotations'] as Json)['ws-drain/injected']).toBe('0.1.0');
    expect(out.spec.template.spec['terminationGracePeriodSeconds']).toBe(r.decision.plan.graceSeconds);
    expect((out.spec.template.spec['initContainers'] as Json[])[0]?.['name']).toBe('ws-drain-install');
    expect(out).not.toHaveProperty('spec.template.apiVersion');
    expect(doc).toEqual(workload(apiVersion, kind, { replicas: 2, selector: { matchLabels: { app: 'chat' } }, template: template() }));
  });

  it('CronJob: spec.jobTemplate.spec.template', () => {
    const doc = workload('batch/v1', 'CronJob', { schedule: '*/5 * * * *', jobTemplate: { spec: { template: template() } } });
    const r = decideWorkload(doc, CONFIG);
    expect(r.kind === 'decided' && r.decision.kind).toBe('mutate');
    const out = r.kind === 'decided' ? (r.doc as { spec: { jobTemplate: { spec: { template: { spec: Json } } } } }) : undefined;
    expect(out?.spec.jobTemplate.spec.template.spec['volumes']).toEqual([{ name: 'ws-drain', emptyDir: { sizeLimit: '16Mi' } }]);
  });

  it('a Pod is decided directly; its namespace comes from metadata', () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x', namespace: 'kube-system', annotations: { 'ws-drain/session-p95': '1m' } }, spec: template()['spec'] };
    const r = decideWorkload(pod, CONFIG);
    expect(r).toEqual({ kind: 'decided', decision: { kind: 'skip', reason: 'excluded-namespace', warnings: [] }, doc: pod });
  });

  it('injecting its own output again changes nothing', () => {
    const doc = workload('apps/v1', 'Deployment', { template: template() });
    const once = decideWorkload(doc, CONFIG);
    const twice = once.kind === 'decided' ? decideWorkload(once.doc, CONFIG) : undefined;
    expect(twice).toMatchObject({ kind: 'decided', decision: { kind: 'skip', reason: 'already-injected' } });
    expect(twice?.kind === 'decided' && twice.doc).toEqual(once.kind === 'decided' && once.doc);
  });

  it('a denial leaves the document unchanged', () => {
    const doc = workload('apps/v1', 'Deployment', { template: template({ 'ws-drain/session-p95': 'later' }) });
    const r = decideWorkload(doc, CONFIG);
    expect(r).toMatchObject({ kind: 'decided', decision: { kind: 'deny', code: 422 } });
    expect(r.kind === 'decided' && r.doc).toBe(doc);
  });

  it('a workload without a template is denied with 400', () => {
    expect(decideWorkload(workload('apps/v1', 'Deployment', {}), CONFIG)).toMatchObject({
      decision: { kind: 'deny', code: 400, message: 'Deployment has no pod template at spec.template' },
    });
  });

  it.each([
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' } },
    { apiVersion: 'extensions/v1beta1', kind: 'Deployment', spec: { template: template() } },
    { apiVersion: 'v1', kind: 'ConfigMap' },
    'text',
    null,
    [1, 2],
  ])('other kinds pass through: %j', (doc) => {
    expect(decideWorkload(doc, CONFIG)).toEqual({ kind: 'passthrough' });
  });
});
