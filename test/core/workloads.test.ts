import { describe, expect, it } from 'vitest';
import { decideDocument, decideWorkload, documentWarnings } from '../../src/core/workloads.js';
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
    ['argoproj.io/v1alpha1', 'Rollout'],
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
    expect(r).toEqual({
      kind: 'decided',
      decision: { kind: 'skip', reason: 'excluded-namespace', warnings: ['ws-drain: namespace kube-system is never injected (always excluded); pod left unchanged'] },
      doc: pod,
    });
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

describe('Argo Rollouts', () => {
  it('a Rollout with spec.workloadRef has no template to inject: passed through, not denied', () => {
    const doc = workload('argoproj.io/v1alpha1', 'Rollout', { workloadRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'chat' } });
    expect(decideWorkload(doc, CONFIG)).toEqual({ kind: 'passthrough' });
  });
  it('a Rollout with workloadRef and ws-drain/ annotations on itself is told to annotate the Deployment', () => {
    const doc = { ...workload('argoproj.io/v1alpha1', 'Rollout', { workloadRef: { kind: 'Deployment', name: 'chat' } }), metadata: { name: 'chat', annotations: { 'ws-drain/session-p95': '5m' } } };
    expect(documentWarnings(doc)).toEqual([
      "ws-drain/session-p95 on a Rollout with spec.workloadRef is not read: annotate the referenced Deployment's spec.template.metadata",
    ]);
  });
});

describe('documentWarnings: mistakes that would change nothing', () => {
  const withOwn = (doc: Json, annotations: Record<string, string>, labels?: Record<string, string>): Json => ({
    ...doc,
    metadata: { ...(doc['metadata'] as Json), annotations, ...(labels ? { labels } : {}) },
  });

  it('annotations on the Deployment instead of its pod template (the most common mistake)', () => {
    const doc = withOwn(workload('apps/v1', 'Deployment', { template: template({}) }), { 'ws-drain/session-p95': '5m', 'ws-drain/cleanup': '5s' });
    expect(documentWarnings(doc)).toEqual([
      "ws-drain/cleanup, ws-drain/session-p95 on the Deployment itself are not read: move them to spec.template.metadata.annotations",
    ]);
    // And the template, which has none, is left alone: nothing else says so.
    expect(decideWorkload(doc, CONFIG)).toMatchObject({ decision: { kind: 'skip', reason: 'not-opted-in', warnings: [] } });
  });

  it('CronJob: points at the jobTemplate path', () => {
    const doc = withOwn(workload('batch/v1', 'CronJob', { jobTemplate: { spec: { template: template({}) } } }), { 'ws-drain/session-p95': '5m' });
    expect(documentWarnings(doc)[0]).toContain('move it to spec.jobTemplate.spec.template.metadata.annotations');
  });

  it('labels instead of annotations, on the pod or the template', () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', labels: { 'ws-drain/session-p95': '5m' } }, spec: template()['spec'] };
    expect(documentWarnings(pod)).toEqual(['ws-drain/session-p95 is a label: ws-drain reads annotations; move it to metadata.annotations']);
    const t = { ...template({}), metadata: { labels: { 'ws-drain/enabled': 'true', app: 'chat' } } };
    expect(documentWarnings(workload('apps/v1', 'StatefulSet', { template: t }))).toEqual([
      'ws-drain/enabled is a label: ws-drain reads annotations; move it to spec.template.metadata.annotations',
    ]);
  });

  it.each([
    ['extensions/v1beta1', 'Deployment', 'extensions/v1beta1 Deployment is not served since Kubernetes 1.16; left unchanged: use apiVersion apps/v1'],
    ['apps/v1beta1', 'StatefulSet', 'apps/v1beta1 StatefulSet is not served since Kubernetes 1.16; left unchanged: use apiVersion apps/v1'],
    ['apps/v1beta2', 'DaemonSet', 'apps/v1beta2 DaemonSet is not served since Kubernetes 1.16; left unchanged: use apiVersion apps/v1'],
    ['batch/v1beta1', 'CronJob', 'batch/v1beta1 CronJob is not served since Kubernetes 1.25; left unchanged: use apiVersion batch/v1'],
  ])('removed API version %s %s with ws-drain/ annotations', (apiVersion, kind, message) => {
    const spec = kind === 'CronJob' ? { jobTemplate: { spec: { template: template() } } } : { template: template() };
    const doc = workload(apiVersion, kind, spec);
    expect(documentWarnings(doc)).toEqual([message]);
    expect(decideWorkload(doc, CONFIG)).toEqual({ kind: 'passthrough' });
  });

  it('kinds ws-drain does not read, when they carry ws-drain/ annotations', () => {
    const svc = withOwn({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's' } }, { 'ws-drain/session-p95': '5m' });
    expect(documentWarnings(svc)).toEqual([
      'v1 Service has ws-drain/ annotations, but ws-drain reads them only on: Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, Argo Rollout; left unchanged',
    ]);
    const kruise = workload('apps.kruise.io/v1alpha1', 'CloneSet', { template: template() });
    expect(documentWarnings(kruise)[0]).toContain('apps.kruise.io/v1alpha1 CloneSet has ws-drain/ annotations');
  });

  it.each([
    ['a correct Deployment', workload('apps/v1', 'Deployment', { template: template() })],
    ['a Deployment without ws-drain', workload('apps/v1', 'Deployment', { template: template({}) })],
    ['an old Deployment without ws-drain', workload('extensions/v1beta1', 'Deployment', { template: template({}) })],
    ['a Service', { apiVersion: 'v1', kind: 'Service', metadata: { name: 's', annotations: { 'prometheus.io/scrape': 'true' } } }],
    ['a Pod with its annotations', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', annotations: { 'ws-drain/session-p95': '5m' } }, spec: {} }],
    ['not an object', 'text'],
  ])('nothing to say about %s', (_, doc) => {
    expect(documentWarnings(doc)).toEqual([]);
  });
});

describe('decideDocument: Lists', () => {
  const list = (items: unknown[]): Json => ({ apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '' }, items });

  it('injects every item of a kind: List, keeps the others, and says which item', () => {
    const svc = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'chat' }, spec: { ports: [{ port: 80 }] } };
    const deploy = workload('apps/v1', 'Deployment', { template: template() });
    const rollout = workload('argoproj.io/v1alpha1', 'Rollout', { template: template() });
    const input = list([svc, deploy, rollout]);
    const r = decideDocument(input, CONFIG);
    expect(r.changed).toBe(true);
    expect(r.objects.map((o) => [o.item, o.result.kind === 'decided' ? o.result.decision.kind : o.result.kind])).toEqual([
      [0, 'passthrough'],
      [1, 'mutate'],
      [2, 'mutate'],
    ]);
    const out = r.doc as { kind: string; metadata: Json; items: Json[] };
    expect(out.kind).toBe('List');
    expect(out.metadata).toEqual({ resourceVersion: '' });
    expect(out.items[0]).toBe(svc);
    for (const i of [1, 2]) expect(out.items[i]).toHaveProperty(['spec', 'template', 'metadata', 'annotations', 'ws-drain/injected']);
    expect(input).toEqual(list([svc, workload('apps/v1', 'Deployment', { template: template() }), workload('argoproj.io/v1alpha1', 'Rollout', { template: template() })]));
  });

  it('a typed list (DeploymentList) is a List too; a List that changes nothing is returned as is', () => {
    const typed = { apiVersion: 'apps/v1', kind: 'DeploymentList', items: [workload('apps/v1', 'Deployment', { template: template() })] };
    expect(decideDocument(typed, CONFIG).changed).toBe(true);
    const plain = list([{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } }]);
    expect(decideDocument(plain, CONFIG)).toMatchObject({ doc: plain, changed: false });
  });

  it('an item denial is reported for that item', () => {
    const r = decideDocument(list([workload('apps/v1', 'Deployment', { template: template({ 'ws-drain/sesion-p95': '5m' }) })]), CONFIG);
    expect(r.objects[0]?.result).toMatchObject({ decision: { kind: 'deny', message: 'unknown annotation "ws-drain/sesion-p95": did you mean ws-drain/session-p95?' } });
    expect(r.changed).toBe(false);
  });
});
