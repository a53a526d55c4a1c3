// Namespace opt-in (label ws-drain.io/inject=enabled) and namespace defaults
// (ws-drain/* annotations on the Namespace): precedence pod > namespace >
// webhook default, for a Pod and for the pod template of every workload kind,
// through the same decide() the webhook and the CLI call.
import { describe, expect, it } from 'vitest';
import { decide } from '../../src/core/decide.js';
import { mergeNamespaceDefaults, readNamespaceDefaults, validateNamespace, withNamespaceDefaults, type NamespaceView } from '../../src/core/namespace-defaults.js';
import { decideWorkload } from '../../src/core/workloads.js';
import type { Decision, Plan } from '../../src/core/types.js';
import { CONFIG, container, pod, tcp, type Json } from './pod-builders.js';

const OPTED_IN_NS: NamespaceView = { name: 'chat', labels: { 'ws-drain.io/inject': 'enabled' } };

function ns(annotations: Record<string, string>, labels: Record<string, string> = {}): NamespaceView {
  return { name: 'chat', labels, annotations };
}

/** A pod with one container serving 8080, optionally without ports. */
function appPod(annotations: Record<string, string> | undefined, ports: Json[] = [tcp(8080)]): Json {
  return pod(annotations, { containers: [container('web', ports.length > 0 ? { ports } : {})] });
}

function plan(d: Decision): Plan {
  if (d.kind !== 'mutate') throw new Error(`expected mutate, got ${JSON.stringify(d)}`);
  return d.plan;
}

/** Every kind whose pod template ws-drain judges, wrapping a pod's metadata and spec. */
const KINDS: Array<{ kind: string; wrap: (p: Json) => Json; template: (doc: Json) => Json }> = [
  { kind: 'Pod', wrap: (p) => p, template: (doc) => doc },
  ...(
    [
      ['apps/v1', 'Deployment'],
      ['apps/v1', 'StatefulSet'],
      ['apps/v1', 'DaemonSet'],
      ['apps/v1', 'ReplicaSet'],
      ['batch/v1', 'Job'],
      ['argoproj.io/v1alpha1', 'Rollout'],
    ] as const
  ).map(([apiVersion, kind]) => ({
    kind,
    wrap: (p: Json) => ({ apiVersion, kind, metadata: { name: 'w' }, spec: { template: { metadata: p['metadata'], spec: p['spec'] } } }),
    template: (doc: Json) => (doc['spec'] as Json)['template'] as Json,
  })),
  {
    kind: 'CronJob',
    wrap: (p) => ({
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'w' },
      spec: { schedule: '* * * * *', jobTemplate: { spec: { template: { metadata: p['metadata'], spec: p['spec'] } } } },
    }),
    template: (doc) => (((doc['spec'] as Json)['jobTemplate'] as Json)['spec'] as Json)['template'] as Json,
  },
];

/** The decision for `p` as the given kind, and the plan annotation of its (template's) pod. */
function decideAs(kind: (typeof KINDS)[number], p: Json, namespace: NamespaceView): { decision: Decision; planAnnotation?: Plan } {
  const r = decideWorkload(kind.wrap(p), CONFIG, namespace);
  if (r.kind !== 'decided') throw new Error(`${kind.kind}: passthrough`);
  const meta = kind.template(r.doc as Json)['metadata'] as { annotations?: Record<string, string> } | undefined;
  const text = meta?.annotations?.['ws-drain/plan'];
  return { decision: r.decision, ...(text ? { planAnnotation: JSON.parse(text) as Plan } : {}) };
}

describe('precedence: pod > namespace > webhook default', () => {
  it.each(KINDS)('$kind: each value from where it was set, and ws-drain/plan says so', (kind) => {
    const namespace = ns({ 'ws-drain/session-p95': '10m', 'ws-drain/prestop-delay': '45s', 'ws-drain/enforce': 'warn' });
    const { decision, planAnnotation } = decideAs(kind, appPod({ 'ws-drain/enabled': 'true', 'ws-drain/session-p95': '2m' }), namespace);
    const p = plan(decision);
    expect(p).toMatchObject({ sessionP95Seconds: 120, prestopDelaySeconds: 45, cleanupSeconds: CONFIG.defaultCleanupSeconds, enforce: 'warn' });
    const from = { enabled: 'pod', 'session-p95': 'pod', 'prestop-delay': 'namespace', cleanup: 'default', 'grace-margin': 'default', mode: 'default', enforce: 'namespace' };
    expect(p.from).toEqual(from);
    expect(planAnnotation?.from).toEqual(from);
  });

  it('without namespace values everything is the pod\'s or the default', () => {
    expect(plan(decide(appPod({ 'ws-drain/session-p95': '1m' }), 'chat', CONFIG)).from).toEqual({
      enabled: 'pod', 'session-p95': 'pod', 'prestop-delay': 'default', cleanup: 'default', 'grace-margin': 'default', mode: 'default', enforce: 'default',
    });
  });

  it('namespace annotations alone never opt a pod in', () => {
    const d = decide(appPod(undefined), ns({ 'ws-drain/session-p95': '10m' }), CONFIG);
    expect(d).toMatchObject({ kind: 'skip', reason: 'not-opted-in' });
  });

  it('a namespace mode: sleep gives way to a pod that sets a drain-only key, with a warning', () => {
    const d = decide(appPod({ 'ws-drain/session-p95': '1m', 'ws-drain/drain-signal': 'SIGTERM' }), ns({ 'ws-drain/mode': 'sleep' }), CONFIG);
    expect(plan(d)).toMatchObject({ mode: 'drain', signal: 'SIGTERM', from: { mode: 'default', 'drain-signal': 'pod' } });
    expect(d.kind === 'mutate' && d.warnings.join('\n')).toContain('namespace chat: ws-drain/mode not applied: the pod sets ws-drain/drain-signal');
  });

  it('a namespace drain-signal does not apply to a pod in sleep mode (no denial)', () => {
    const d = decide(appPod({ 'ws-drain/session-p95': '1m', 'ws-drain/mode': 'sleep' }), ns({ 'ws-drain/drain-signal': 'SIGQUIT' }), CONFIG);
    expect(plan(d)).toMatchObject({ mode: 'sleep' });
    expect(plan(d).signal).toBeUndefined();
    expect(plan(d).from?.['drain-signal']).toBeUndefined();
  });

  it('a denial that involves namespace values names them', () => {
    const d = decide(pod({ 'ws-drain/session-p95': '5m' }, { terminationGracePeriodSeconds: 30, containers: [container('web', { ports: [tcp(8080)] })] }), ns({ 'ws-drain/enforce': 'reject' }), CONFIG);
    expect(d.kind).toBe('deny');
    expect(d.kind === 'deny' && d.message).toContain('(defaults from namespace chat: ws-drain/enforce)');
  });
});

describe('invalid namespace values: ignored with a warning, never a denial', () => {
  const bad = ns({
    'ws-drain/session-p95': '5 minutes',
    'ws-drain/cleanup': '15s',
    'ws-drain/sesion-p95': '1m',
    'ws-drain/enabled': 'true',
    'ws-drain/ports': '8080',
  });

  it('readNamespaceDefaults keeps the valid values and says why each other one is ignored', () => {
    const d = readNamespaceDefaults(bad, CONFIG);
    expect(d.values).toEqual({ 'ws-drain/cleanup': '15s' });
    expect(Object.fromEntries(d.ignored.map((i) => [i.key, i.why]))).toEqual({
      'ws-drain/session-p95': expect.stringContaining('"5 minutes" is not a duration'),
      'ws-drain/sesion-p95': expect.stringContaining('did you mean ws-drain/session-p95'),
      'ws-drain/enabled': expect.stringContaining('label the namespace ws-drain.io/inject=enabled'),
      'ws-drain/ports': expect.stringContaining('set it on the pod template'),
    });
  });

  it.each(KINDS)('$kind: the pod is injected with the webhook default, warned, and its plan lists the ignored keys', (kind) => {
    const { decision, planAnnotation } = decideAs(kind, appPod({ 'ws-drain/enabled': 'true' }), bad);
    const p = plan(decision);
    expect(p).toMatchObject({ sessionP95Seconds: CONFIG.defaultSessionP95Seconds, cleanupSeconds: 15 });
    expect(p.from).toMatchObject({ 'session-p95': 'default', cleanup: 'namespace' });
    expect(planAnnotation?.namespaceIgnored).toEqual(['ws-drain/enabled', 'ws-drain/ports', 'ws-drain/sesion-p95', 'ws-drain/session-p95']);
    expect(decision.kind === 'mutate' && decision.warnings.some((w) => w.includes('namespace chat: ignored ws-drain/session-p95: "5 minutes" is not a duration'))).toBe(true);
  });

  it('a 0s session-p95 valid for the namespace\'s sleep mode gives way when the pod drains', () => {
    const d = decide(appPod({ 'ws-drain/session-p95': '1m', 'ws-drain/mode': 'drain' }), ns({ 'ws-drain/mode': 'sleep', 'ws-drain/session-p95': '0s' }), CONFIG);
    expect(plan(d)).toMatchObject({ mode: 'drain', sessionP95Seconds: 60 });
    const e = decide(appPod({ 'ws-drain/enabled': 'true', 'ws-drain/mode': 'drain' }), ns({ 'ws-drain/mode': 'sleep', 'ws-drain/session-p95': '0s' }), CONFIG);
    expect(plan(e)).toMatchObject({ mode: 'drain', sessionP95Seconds: CONFIG.defaultSessionP95Seconds, from: { 'session-p95': 'default' } });
  });

  it('the pod\'s own invalid value is still denied', () => {
    expect(decide(appPod({ 'ws-drain/session-p95': 'soon' }), ns({ 'ws-drain/session-p95': '1m' }), CONFIG)).toMatchObject({ kind: 'deny', code: 422 });
  });

  it('mergeNamespaceDefaults: pod keys win, namespace fills the rest', () => {
    const m = mergeNamespaceDefaults({ 'ws-drain/cleanup': '5s', 'other/key': 'x' }, bad, readNamespaceDefaults(ns({ 'ws-drain/cleanup': '15s', 'ws-drain/grace-margin': '50%' }), CONFIG));
    expect(m.annotations).toEqual({ 'ws-drain/cleanup': '5s', 'ws-drain/grace-margin': '50%' });
    expect(m.sources).toEqual({ 'ws-drain/cleanup': 'pod', 'ws-drain/grace-margin': 'namespace' });
  });
});

describe('defaults read once per namespace (the webhook\'s informer) or per decision (the CLI)', () => {
  const namespaces: Array<[string, NamespaceView]> = [
    ['valid defaults', ns({ 'ws-drain/session-p95': '10m', 'ws-drain/mode': 'drain', 'ws-drain/cleanup': '15s' })],
    ['sleep mode with 0s', ns({ 'ws-drain/mode': 'sleep', 'ws-drain/session-p95': '0s' })],
    ['ignored values', ns({ 'ws-drain/session-p95': '5 minutes', 'ws-drain/sesion-p95': '1m', 'ws-drain/ports': '8080' })],
    ['opted in by label', { ...OPTED_IN_NS, annotations: { 'ws-drain/grace-margin': '50%' } }],
    ['not read yet', { name: 'chat', known: false, annotations: { 'ws-drain/session-p95': '10m' } }],
  ];
  const pods: Array<[string, Json]> = [
    ['opted in', appPod({ 'ws-drain/enabled': 'true' })],
    ['own values', appPod({ 'ws-drain/session-p95': '1m', 'ws-drain/drain-signal': 'SIGUSR1' })],
    ['own invalid value', appPod({ 'ws-drain/session-p95': 'soon' })],
    ['not opted in', appPod(undefined)],
  ];

  it.each(namespaces)('%s: the same decision for every pod either way', (_, view) => {
    const read = withNamespaceDefaults(view, CONFIG);
    expect(read.defaults).toEqual(readNamespaceDefaults(view, CONFIG));
    for (const [, p] of pods) expect(decide(p, read, CONFIG)).toEqual(decide(p, view, CONFIG));
  });

  it('decide uses the defaults handed in, not the annotations again', () => {
    const view = ns({ 'ws-drain/cleanup': '15s' });
    const handedIn: NamespaceView = { ...view, defaults: { values: { 'ws-drain/cleanup': '40s' }, ignored: [] } };
    expect(plan(decide(appPod({ 'ws-drain/enabled': 'true' }), handedIn, CONFIG))).toMatchObject({ cleanupSeconds: 40, from: { cleanup: 'namespace' } });
  });
});

describe('namespace opt-in by label', () => {
  it.each(KINDS)('$kind: a pod with a TCP port is opted in, with its values and the namespace\'s', (kind) => {
    const namespace: NamespaceView = { ...OPTED_IN_NS, annotations: { 'ws-drain/session-p95': '3m' } };
    const { decision } = decideAs(kind, appPod({ 'ws-drain/cleanup': '5s' }), namespace);
    expect(plan(decision)).toMatchObject({ sessionP95Seconds: 180, cleanupSeconds: 5, from: { enabled: 'namespace', 'session-p95': 'namespace', cleanup: 'pod' } });
  });

  it.each(KINDS)('$kind: a pod without annotations is opted in', (kind) => {
    expect(plan(decideAs(kind, appPod(undefined), OPTED_IN_NS).decision).from?.['enabled']).toBe('namespace');
  });

  it.each(KINDS)('$kind: ws-drain/enabled: "false" opts the pod out', (kind) => {
    expect(decideAs(kind, appPod({ 'ws-drain/enabled': 'false' }), OPTED_IN_NS).decision).toMatchObject({ kind: 'skip', reason: 'opted-out' });
  });

  it.each(KINDS)('$kind: a pod without a TCP port is left alone', (kind) => {
    expect(decideAs(kind, appPod(undefined, []), OPTED_IN_NS).decision).toMatchObject({ kind: 'skip', reason: 'no-tcp-port' });
    expect(decideAs(kind, appPod(undefined, [{ containerPort: 53, protocol: 'UDP' }]), OPTED_IN_NS).decision).toMatchObject({ kind: 'skip', reason: 'no-tcp-port' });
  });

  it('a mesh proxy\'s ports alone do not opt a pod in (Istio adds istio-proxy before ws-drain sees the pod)', () => {
    const p = pod(undefined, { containers: [container('job'), container('istio-proxy', { ports: [tcp(15090, 'http-envoy-prom')] })] });
    expect(decide(p, OPTED_IN_NS, CONFIG)).toMatchObject({ kind: 'skip', reason: 'no-tcp-port' });
  });

  it('other label values do not opt in; disabled on the namespace or the pod skips it as the webhooks\' selectors do', () => {
    expect(decide(appPod(undefined), { name: 'chat', labels: { 'ws-drain.io/inject': 'true' } }, CONFIG)).toMatchObject({ kind: 'skip', reason: 'not-opted-in' });
    expect(decide(appPod({ 'ws-drain/session-p95': '1m' }), { name: 'chat', labels: { 'ws-drain.io/inject': 'disabled' } }, CONFIG)).toMatchObject({ kind: 'skip', reason: 'excluded-namespace' });
    const labelled = appPod({ 'ws-drain/session-p95': '1m' });
    (labelled['metadata'] as Json)['labels'] = { 'ws-drain.io/inject': 'disabled' };
    expect(decide(labelled, OPTED_IN_NS, CONFIG)).toMatchObject({ kind: 'skip', reason: 'opted-out' });
  });

  it('a namespace the webhook has not read yet: no opt-in or defaults, and a warning says so', () => {
    const d = decide(appPod({ 'ws-drain/session-p95': '1m' }), { name: 'new', known: false, labels: { 'ws-drain.io/inject': 'enabled' }, annotations: { 'ws-drain/cleanup': '1s' } }, CONFIG);
    expect(plan(d).from?.['cleanup']).toBe('default');
    expect(d.kind === 'mutate' && d.warnings[0]).toContain('namespace new not yet read by ws-drain');
    expect(decide(appPod(undefined), { name: 'new', known: false, labels: { 'ws-drain.io/inject': 'enabled' } }, CONFIG)).toMatchObject({ kind: 'skip', reason: 'not-opted-in' });
  });
});

describe('validateNamespace (/validate of a Namespace)', () => {
  it('denies a change that brings in a value its pods would ignore', () => {
    const v = validateNamespace(ns({ 'ws-drain/session-p95': '5 minutes' }), ns({}), CONFIG);
    expect(v).toMatchObject({ allowed: false });
    expect(!v.allowed && v.message).toContain('ws-drain/session-p95: "5 minutes" is not a duration');
  });

  it('allows an unrelated change to a namespace that already had one, with a warning', () => {
    const before = ns({ 'ws-drain/session-p95': '5 minutes' });
    const v = validateNamespace({ ...before, labels: { team: 'a' } }, before, CONFIG);
    expect(v).toMatchObject({ allowed: true, warnings: [expect.stringContaining('ws-drain/session-p95 ignored by its pods')] });
  });

  it('warns about a label value that has no effect', () => {
    expect(validateNamespace(ns({}, { 'ws-drain.io/inject': 'true' }), undefined, CONFIG)).toEqual({
      allowed: true,
      warnings: ['label ws-drain.io/inject="true" has no effect; use enabled or disabled'],
    });
  });
});
