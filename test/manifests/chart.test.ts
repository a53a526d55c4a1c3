// charts/ws-drain against the kustomize install: the chart's default render is
// the base's, object by object; value sets equal the overlays and components
// they stand for; values the schema or the templates refuse are refused with
// a message. manifests.test.ts runs its structural checks on chart renders too,
// and test/e2e/chart-dry-run.test.ts installs the chart (server-side dry run)
// on a real kube-apiserver.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { CHART_DIR, helm, renderChart } from './helm.js';
import {
  ConfigMap,
  Deployment,
  MutatingWebhookConfiguration,
  NetworkPolicy,
  PrometheusRule,
  ServiceMonitor,
  ValidatingAdmissionPolicyBinding,
  ValidatingWebhookConfiguration,
  ofKind,
  one,
} from './objects.js';
import { REPO_ROOT, buildKubectl, buildTool, renderKustomize, type KubeObject } from './render.js';

// What a chart sets differently from kustomize's `labels:` by convention; the
// equivalence compares everything else.
const HELM_ONLY_LABELS = ['app.kubernetes.io/managed-by', 'helm.sh/chart', 'app.kubernetes.io/version'];

const Chart = z.looseObject({ version: z.string(), appVersion: z.string() });
const chart = Chart.parse(parseYaml(await import('node:fs').then((fs) => fs.readFileSync(join(CHART_DIR, 'Chart.yaml'), 'utf8'))));

const key = (o: KubeObject): string => `${o.kind} ${o.metadata.namespace ?? '-'}/${o.metadata.name}`;

/**
 * The object without the Helm-only labels, in metadata and in a pod template.
 * An empty pod-template `annotations: {}` (what kustomize leaves after the
 * monitoring component deletes the scrape annotations) counts as none.
 */
function withoutHelmLabels(o: KubeObject): KubeObject {
  type Template = { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> } };
  const copy = structuredClone(o) as KubeObject & { spec?: { template?: Template } };
  for (const labels of [copy.metadata.labels, copy.spec?.template?.metadata?.labels]) {
    if (labels) for (const k of HELM_ONLY_LABELS) delete labels[k];
  }
  const template = copy.spec?.template?.metadata;
  if (template?.annotations && Object.keys(template.annotations).length === 0) delete template.annotations;
  return copy;
}

/** Objects keyed by kind/namespace/name, the Helm-only labels dropped. */
function byKey(objects: KubeObject[]): Map<string, KubeObject> {
  return new Map(objects.map((o) => [key(o), withoutHelmLabels(o)]));
}

/** Object-by-object equality, with each differing object named in the failure. */
function expectSameObjects(chartObjects: KubeObject[], kustomizeObjects: KubeObject[]): void {
  const fromChart = byKey(chartObjects);
  const fromKustomize = byKey(kustomizeObjects);
  expect([...fromChart.keys()].sort()).toEqual([...fromKustomize.keys()].sort());
  for (const [k, o] of fromKustomize) expect(fromChart.get(k), k).toEqual(o);
}

/** A scratch kustomization: the base plus the named components of manifests/components. */
async function renderBaseWith(scratch: string, components: string[]): Promise<KubeObject[]> {
  const dir = await mkdtemp(join(scratch, 'kustomization-'));
  const rel = (p: string) => relative(dir, join(REPO_ROOT, p));
  await writeFile(
    join(dir, 'kustomization.yaml'),
    JSON.stringify({ resources: [rel('manifests/base')], components: components.map((c) => rel(`manifests/components/${c}`)) }),
  );
  return renderKustomize(dir);
}

const PROMETHEUS_LABELS = { release: 'kube-prometheus-stack' };
const HA = { replicaCount: 3, podDisruptionBudget: { minAvailable: 2 }, zoneSpread: 'DoNotSchedule' };
const FAIL_CLOSED = { webhook: { failurePolicy: 'Fail' } };
const MONITORING = {
  monitoring: { serviceMonitor: { enabled: true, labels: PROMETHEUS_LABELS }, prometheusRule: { enabled: true, labels: PROMETHEUS_LABELS } },
};

let scratch: string;
let defaults: KubeObject[];
let base: KubeObject[];

beforeAll(async () => {
  await Promise.all([buildTool('helm'), buildKubectl()]);
  scratch = await mkdtemp(join(tmpdir(), 'ws-drain-chart-'));
  [defaults, base] = await Promise.all([renderChart(), renderKustomize('manifests/base')]);
});
afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('the chart renders what kustomize renders', () => {
  it('default values: the objects of manifests/base, except the Namespace (Helm installs into an existing one)', () => {
    const namespaces = ofKind(base, 'Namespace');
    expect(namespaces.map((n) => n.metadata.name)).toEqual(['ws-drain-system']);
    expect(ofKind(defaults, 'Namespace')).toEqual([]);
    expectSameObjects(defaults, base.filter((o) => o.kind !== 'Namespace'));
  });

  it('labels every object as managed by Helm, with the chart and app version', () => {
    for (const o of defaults) {
      expect(o.metadata.labels?.['app.kubernetes.io/managed-by'], key(o)).toBe('Helm');
      expect(o.metadata.labels?.['helm.sh/chart'], key(o)).toBe(`ws-drain-${chart.version}`);
      expect(o.metadata.labels?.['app.kubernetes.io/version'], key(o)).toBe(chart.appVersion);
    }
  });

  it('the image tags default to appVersion', () => {
    const deployment = one(defaults, 'Deployment', Deployment);
    const container = deployment.spec.template.spec.containers[0]!;
    expect(container.image).toBe(`ghcr.io/ws-drain/ws-drain-webhook:${chart.appVersion}`);
    expect(container.env?.find((e) => e.name === 'WS_DRAIN_HELPER_IMAGE')?.value).toBe(`ghcr.io/ws-drain/ws-drain-helper:${chart.appVersion}`);
  });

  it.each([
    ['overlays/ha', HA, 'manifests/overlays/ha'],
    ['overlays/fail-closed', FAIL_CLOSED, 'manifests/overlays/fail-closed'],
    ['overlays/monitoring (labels for kube-prometheus-stack)', MONITORING, 'manifests/overlays/monitoring'],
  ])('values for %s: the same objects as the overlay', async (_name, values, overlay) => {
    const [fromChart, fromKustomize] = await Promise.all([renderChart({ values }), renderKustomize(overlay)]);
    expectSameObjects(fromChart, fromKustomize.filter((o) => o.kind !== 'Namespace'));
  });

  it('ha + fail-closed + monitoring + dashboard: the same objects as the base with those four components', async () => {
    const values = {
      ...HA,
      ...FAIL_CLOSED,
      monitoring: { serviceMonitor: { enabled: true }, prometheusRule: { enabled: true }, dashboard: { enabled: true } },
    };
    const [fromChart, fromKustomize] = await Promise.all([
      renderChart({ values }),
      renderBaseWith(scratch, ['ha', 'fail-closed', 'monitoring', 'grafana-dashboard']),
    ]);
    expectSameObjects(fromChart, fromKustomize.filter((o) => o.kind !== 'Namespace'));
    const dashboard = one(fromChart, 'ConfigMap', ConfigMap, 'ws-drain-dashboard');
    expect(dashboard.metadata.labels?.['grafana_dashboard']).toBe('1');
  });
});

describe('values', () => {
  it('another namespace: every reference follows it, ws-drain-system appears nowhere', async () => {
    const values = { monitoring: { serviceMonitor: { enabled: true }, prometheusRule: { enabled: true }, dashboard: { enabled: true } } };
    const objects = await renderChart({ namespace: 'platform-ws', values });
    expect(JSON.stringify(objects)).not.toContain('ws-drain-system');
    for (const o of objects) if (o.metadata.namespace !== undefined) expect(o.metadata.namespace, key(o)).toBe('platform-ws');
    const mutating = one(objects, 'MutatingWebhookConfiguration', MutatingWebhookConfiguration);
    expect(mutating.metadata.annotations?.['cert-manager.io/inject-ca-from']).toBe('platform-ws/ws-drain-webhook');
    expect(mutating.webhooks[0]!.clientConfig.service.namespace).toBe('platform-ws');
    const excluded = mutating.webhooks[0]!.namespaceSelector.matchExpressions?.find((e) => e.key === 'kubernetes.io/metadata.name')?.values;
    expect(excluded).toEqual(['kube-system', 'platform-ws']);
    const env = one(objects, 'Deployment', Deployment).spec.template.spec.containers[0]!.env ?? [];
    expect(env.find((e) => e.name === 'WS_DRAIN_EXCLUDE_NAMESPACES')?.value).toBe('kube-system,platform-ws');
    const exprs = one(objects, 'PrometheusRule', PrometheusRule).spec.groups.flatMap((g) => g.rules.map((r) => r.expr));
    expect(exprs.filter((e) => e.includes('certmanager_')).every((e) => e.includes('exported_namespace="platform-ws"'))).toBe(true);
    expect(one(objects, 'ServiceMonitor', ServiceMonitor).spec.namespaceSelector.matchNames).toEqual(['platform-ws']);
  });

  it('image digests pin both images; a tag overrides appVersion', async () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    const objects = await renderChart({
      values: { image: { repository: 'registry.example/ws/webhook', digest }, helperImage: { repository: 'registry.example/ws/helper', tag: '0.2.0-rc.1' } },
    });
    const container = one(objects, 'Deployment', Deployment).spec.template.spec.containers[0]!;
    expect(container.image).toBe(`registry.example/ws/webhook@${digest}`);
    expect(container.env?.find((e) => e.name === 'WS_DRAIN_HELPER_IMAGE')?.value).toBe('registry.example/ws/helper:0.2.0-rc.1');
  });

  it('extra namespace and object selectors reach both webhooks and the guard binding alike', async () => {
    const values = {
      webhook: {
        namespaceSelector: { matchLabels: { 'ws-drain.io/inject': 'enabled' } },
        objectSelector: { matchExpressions: [{ key: 'app', operator: 'Exists' }] },
        excludeNamespaces: ['kube-system', 'cert-manager'],
      },
    };
    const objects = await renderChart({ values });
    const mutatingEntries = one(objects, 'MutatingWebhookConfiguration', MutatingWebhookConfiguration).webhooks;
    const validatingEntries = one(objects, 'ValidatingWebhookConfiguration', ValidatingWebhookConfiguration).webhooks;
    const mutating = mutatingEntries[0]!;
    const binding = one(objects, 'ValidatingAdmissionPolicyBinding', ValidatingAdmissionPolicyBinding).spec.matchResources;
    expect(mutating.namespaceSelector.matchLabels).toEqual({ 'ws-drain.io/inject': 'enabled' });
    expect(mutating.namespaceSelector.matchExpressions?.[0]?.values).toEqual(['kube-system', 'cert-manager', 'ws-drain-system']);
    expect(mutating.objectSelector.matchExpressions?.map((e) => e.key)).toEqual(['ws-drain.io/inject', 'app']);
    // Every entry (one per way of opting in, plus Namespaces) and the binding: the same extra
    // selectors and exclusions; only the ws-drain.io/inject expression tells the entries apart.
    const withoutInject = (sel: typeof mutating.namespaceSelector) => ({ ...sel, matchExpressions: sel.matchExpressions?.filter((e) => e.key !== 'ws-drain.io/inject') });
    for (const other of [...mutatingEntries, ...validatingEntries, binding]) {
      expect(withoutInject(other.namespaceSelector)).toEqual(withoutInject(mutating.namespaceSelector));
      expect(other.objectSelector).toEqual(mutating.objectSelector);
    }
  });

  it('guard: Warn + Audit instead of Deny, or no guard at all', async () => {
    const warn = await renderChart({ values: { guard: { validationActions: ['Warn', 'Audit'] } } });
    expect(one(warn, 'ValidatingAdmissionPolicyBinding', ValidatingAdmissionPolicyBinding).spec.validationActions).toEqual(['Warn', 'Audit']);
    const none = await renderChart({ values: { guard: { enabled: false } } });
    expect(ofKind(none, 'ValidatingAdmissionPolicy')).toEqual([]);
    expect(ofKind(none, 'ValidatingAdmissionPolicyBinding')).toEqual([]);
  });

  it('without cert-manager: no Issuer or Certificate, the given CA on both webhooks, no injection annotation', async () => {
    const caBundle = Buffer.from('-----BEGIN CERTIFICATE-----\nnot checked here\n-----END CERTIFICATE-----\n').toString('base64');
    const objects = await renderChart({ values: { certManager: { enabled: false }, tls: { secretName: 'my-webhook-tls', caBundle } } });
    expect(objects.filter((o) => o.apiVersion.startsWith('cert-manager.io/'))).toEqual([]);
    const mutating = one(objects, 'MutatingWebhookConfiguration', MutatingWebhookConfiguration);
    const validating = one(objects, 'ValidatingWebhookConfiguration', ValidatingWebhookConfiguration);
    expect(mutating.webhooks[0]!.clientConfig.caBundle).toBe(caBundle);
    expect((validating.webhooks[0]!.clientConfig as { caBundle?: string }).caBundle).toBe(caBundle);
    expect(mutating.metadata.annotations?.['cert-manager.io/inject-ca-from']).toBeUndefined();
    const volumes = one(objects, 'Deployment', Deployment).spec.template.spec.volumes ?? [];
    expect(volumes.find((v) => v.name === 'tls')?.secret?.secretName).toBe('my-webhook-tls');
  });

  it('networkPolicy.apiServerPorts: egress opens exactly the ports given (an API server on another port)', async () => {
    const egressPorts = (objects: KubeObject[]) =>
      one(objects, 'NetworkPolicy', NetworkPolicy).spec.egress?.flatMap((rule) => (rule.ports ?? []).map((p) => p.port));
    expect(egressPorts(await renderChart({}))).toEqual([443, 6443]);
    expect(egressPorts(await renderChart({ values: { networkPolicy: { apiServerPorts: [8443] } } }))).toEqual([8443]);
    expect(ofKind(await renderChart({ values: { networkPolicy: { enabled: false } } }), 'NetworkPolicy')).toEqual([]);
  });

  it('commonLabels and the Prometheus labels land on the objects', async () => {
    const objects = await renderChart({ values: { commonLabels: { team: 'platform' }, ...MONITORING } });
    for (const o of objects) expect(o.metadata.labels?.['team'], key(o)).toBe('platform');
    for (const kind of ['ServiceMonitor', 'PrometheusRule']) {
      expect(ofKind(objects, kind)[0]?.metadata.labels?.['release'], kind).toBe('kube-prometheus-stack');
    }
    // The ServiceMonitor replaces the scrape annotations (no double scrape).
    const annotations = one(objects, 'Deployment', Deployment).spec.template.metadata.annotations ?? {};
    expect(Object.keys(annotations).filter((k) => k.startsWith('prometheus.io/'))).toEqual([]);
  });
});

describe('bad values are refused with a message', () => {
  it.each<[string, Record<string, unknown>, RegExp]>([
    ['one replica', { replicaCount: 1 }, /at '\/replicaCount': minimum/],
    ['a failurePolicy Kubernetes does not know', { webhook: { failurePolicy: 'Sometimes' } }, /at '\/webhook\/failurePolicy'/],
    ['a timeout above the API server maximum', { webhook: { timeoutSeconds: 31 } }, /at '\/webhook\/timeoutSeconds': maximum/],
    ['a duration the webhook cannot parse', { webhook: { maxGrace: 'forever' } }, /at '\/webhook\/maxGrace'/],
    ['a margin without %', { webhook: { defaultMargin: '30' } }, /at '\/webhook\/defaultMargin'/],
    ['a shutdown timeout that does not fit the grace period', { webhook: { shutdownTimeout: '25s' } }, /at '\/webhook\/shutdownTimeout'/],
    ['a log level the server refuses', { webhook: { logLevel: 'verbose' } }, /at '\/webhook\/logLevel'/],
    ['a namespace name that is not a DNS label', { webhook: { excludeNamespaces: ['Bad_NS'] } }, /at '\/webhook\/excludeNamespaces\/0'/],
    ['a short digest', { image: { digest: 'sha256:abc' } }, /at '\/image\/digest'/],
    ['a repository with a tag in it', { image: { repository: 'ghcr.io/ws-drain/ws-drain-webhook:0.1.0' } }, /at '\/image\/repository'/],
    ['an unknown top-level key (typo)', { replicas: 3 }, /additional properties 'replicas' not allowed/],
    ['an unknown webhook setting', { webhook: { failurePolicyy: 'Fail' } }, /additional properties 'failurePolicyy' not allowed/],
    ['Deny together with Warn', { guard: { validationActions: ['Deny', 'Warn'] } }, /at '\/guard\/validationActions'/],
    ['a selector operator Kubernetes does not know', { webhook: { namespaceSelector: { matchExpressions: [{ key: 'a', operator: 'Is' }] } } }, /at '\/webhook\/namespaceSelector\/matchExpressions\/0\/operator'/],
    ['a numeric label value', { monitoring: { serviceMonitor: { labels: { release: 1 } } } }, /at '\/monitoring\/serviceMonitor\/labels\/release': got number, want string/],
    ['cert-manager off without a CA', { certManager: { enabled: false } }, /at '\/tls\/caBundle': minLength/],
    ['a PDB that never lets a pod go', { replicaCount: 3, podDisruptionBudget: { minAvailable: 3 } }, /minAvailable \(3\) must be below replicaCount \(3\)/],
  ])('%s', async (_name, values, message) => {
    const result = await helm(['template', 'ws-drain', CHART_DIR, '--namespace', 'ws-drain-system', '--values', '{values}'], values);
    expect(result.code, result.stdout.slice(0, 200)).not.toBe(0);
    expect(result.stderr).toMatch(message);
  });
});

describe('helm package', () => {
  it('packs the files linked from manifests/ by content, and the package renders what the directory renders', async () => {
    const out = await mkdtemp(join(scratch, 'package-'));
    const packed = await helm(['package', CHART_DIR, '--destination', out]);
    expect(packed.code, packed.stderr).toBe(0);
    const archive = /saved it to: (\S+\.tgz)/.exec(packed.stdout)?.[1];
    if (archive === undefined) throw new Error(`helm package printed no archive: ${packed.stdout}`);
    const values = { monitoring: { prometheusRule: { enabled: true }, dashboard: { enabled: true } } };
    const args = (chartRef: string) => ['template', 'ws-drain', chartRef, '--namespace', 'ws-drain-system', '--values', '{values}'];
    const [fromArchive, fromDir] = await Promise.all([helm(args(archive), values), helm(args(CHART_DIR), values)]);
    expect(fromArchive.code, fromArchive.stderr).toBe(0);
    expect(fromArchive.stdout).toContain('kind: ValidatingAdmissionPolicy');
    expect(fromArchive.stdout).toContain('WsDrainCertificateExpiresSoon');
    expect(fromArchive.stdout).toBe(fromDir.stdout);
  });
});

describe('helm lint', () => {
  it.each<[string, Record<string, unknown>]>([
    ['default values', {}],
    ['ha + fail-closed + monitoring + dashboard', { ...HA, ...FAIL_CLOSED, monitoring: { serviceMonitor: { enabled: true }, prometheusRule: { enabled: true }, dashboard: { enabled: true } } }],
    ['without cert-manager', { certManager: { enabled: false }, tls: { caBundle: Buffer.from('ca').toString('base64') } }],
  ])('--strict passes with %s', async (_name, values) => {
    const result = await helm(['lint', '--strict', CHART_DIR, '--namespace', 'ws-drain-system', '--values', '{values}'], values);
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it('fails on a value the schema refuses (the check above is not vacuous)', async () => {
    const result = await helm(['lint', '--strict', CHART_DIR, '--values', '{values}'], { replicaCount: 'two' });
    expect(result.code).not.toBe(0);
    expect(`${result.stdout}${result.stderr}`).toMatch(/replicaCount/);
  });
});
