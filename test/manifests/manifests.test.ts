// Structural checks of every kustomize render in manifests/: the base, the
// root kustomization and each overlay (new overlays are picked up from the
// directory listing). The e2e suite dry-runs the same renders against a real
// kube-apiserver; these tests check what a dry-run cannot: that the pieces
// refer to each other correctly and agree with the webhook's own defaults.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { configFromFlags, parseFlags } from '../../src/cli/flags.js';
import { SERVE_FLAGS } from '../../src/cli/serve-command.js';
import { DEFAULT_CONFIG } from '../../src/core/config.js';
import { parseDuration } from '../../src/core/duration.js';
import type { WebhookConfig } from '../../src/core/types.js';
import {
  Certificate,
  Deployment,
  Issuer,
  MutatingWebhookConfiguration,
  NetworkPolicy,
  PodDisruptionBudget,
  PrometheusRule,
  Service,
  ServiceMonitor,
  ValidatingAdmissionPolicy,
  ValidatingAdmissionPolicyBinding,
  ValidatingWebhookConfiguration,
  ofKind,
  one,
  selects,
  type Container,
  type LabelSelector,
} from './objects.js';
import { renderChart } from './helm.js';
import { REPO_ROOT, buildKubectl, renderKustomize, type KubeObject } from './render.js';

const OVERLAYS = readdirSync(join(REPO_ROOT, 'manifests', 'overlays'), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => `manifests/overlays/${d.name}`)
  .sort();
// The chart's renders get the same structural checks: its defaults, and a
// production-like value set (the equivalence with kustomize is chart.test.ts).
const CHART_VALUE_SETS: Record<string, Record<string, unknown>> = {
  'chart: default values': {},
  'chart: ha, fail-closed, monitoring, pinned images, own settings': {
    replicaCount: 3,
    podDisruptionBudget: { minAvailable: 2 },
    zoneSpread: 'DoNotSchedule',
    image: { digest: `sha256:${'1'.repeat(64)}` },
    helperImage: { digest: `sha256:${'2'.repeat(64)}` },
    webhook: { failurePolicy: 'Fail', maxGrace: '30m', defaultSessionP95: '10m', defaultPrestopDelay: '15s', defaultMargin: '25%', excludeNamespaces: ['kube-system', 'cert-manager'], logLevel: 'warn' },
    priorityClassName: 'system-cluster-critical',
    monitoring: { serviceMonitor: { enabled: true, labels: { release: 'prom' } }, prometheusRule: { enabled: true, labels: { release: 'prom' } }, dashboard: { enabled: true } },
  },
};
const TARGETS = ['manifests', 'manifests/base', ...OVERLAYS, ...Object.keys(CHART_VALUE_SETS)];

const NAMESPACE = 'ws-drain-system';
const OPT_OUT_LABEL = 'ws-drain.io/inject';

const renders = new Map<string, KubeObject[]>();
function render(target: string): KubeObject[] {
  const objects = renders.get(target);
  if (!objects) throw new Error(`${target} was not rendered in beforeAll`);
  return objects;
}

beforeAll(async () => {
  await buildKubectl();
  for (const target of TARGETS) {
    const values = CHART_VALUE_SETS[target];
    renders.set(target, values === undefined ? await renderKustomize(target) : await renderChart({ values }));
  }
});

/** The two entries of the MutatingWebhookConfiguration: by pod annotation, and by namespace label. */
const ENTRY_NAMES = ['inject.ws-drain.io', 'inject-by-namespace.ws-drain.io'];

function webhookOf(objects: KubeObject[]) {
  const config = one(objects, 'MutatingWebhookConfiguration', MutatingWebhookConfiguration, 'ws-drain');
  expect(config.webhooks.map((w) => w.name)).toEqual(ENTRY_NAMES);
  return { config, webhook: config.webhooks[0]!, byNamespace: config.webhooks[1]!, webhooks: config.webhooks };
}

const nsLabels = (name: string, extra: Record<string, string> = {}) => ({ 'kubernetes.io/metadata.name': name, ...extra });
/** Namespaces of every kind the selectors tell apart. */
const SAMPLE_NAMESPACES = [
  nsLabels('kube-system'),
  nsLabels(NAMESPACE),
  nsLabels('shop'),
  nsLabels('shop', { [OPT_OUT_LABEL]: 'disabled' }),
  nsLabels('shop', { [OPT_OUT_LABEL]: 'enabled' }),
  nsLabels('shop', { [OPT_OUT_LABEL]: 'yes' }),
];

function webhookContainer(deployment: Deployment): Container {
  const container = deployment.spec.template.spec.containers.find((c) => c.name === 'webhook');
  if (!container) throw new Error('Deployment has no container named webhook');
  return container;
}

/** `--name=value` from the container's args. */
function argValue(container: Container, name: string): string | undefined {
  const prefix = `--${name}=`;
  return container.args?.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

/** The namespaces a selector excludes through `kubernetes.io/metadata.name NotIn [...]`. */
function excludedByName(selector: LabelSelector): string[] {
  const expr = selector.matchExpressions?.find((e) => e.key === 'kubernetes.io/metadata.name');
  expect(expr?.operator).toBe('NotIn');
  return [...(expr?.values ?? [])].sort();
}

/**
 * The webhook's effective settings, computed the way `ws-drain serve` does:
 * the container's args and env through the CLI's own flag parser.
 */
function serveConfig(deployment: Deployment): WebhookConfig {
  const container = webhookContainer(deployment);
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') env[e.name] = deployment.metadata.namespace;
  }
  const [subcommand, ...flags] = container.args ?? [];
  expect(subcommand).toBe('serve');
  const values = parseFlags(flags, SERVE_FLAGS, env);
  const ownNamespace = env['POD_NAMESPACE'];
  return configFromFlags(values, ownNamespace ? [ownNamespace] : []);
}

function durationSeconds(text: string): number {
  const seconds = parseDuration(text);
  if (seconds === undefined) throw new Error(`not a duration: ${text}`);
  return seconds;
}

/** Every field of a pod-level + container-level securityContext that "restricted" requires. */
function expectRestricted(deployment: Deployment, container: Container): void {
  const pod = deployment.spec.template.spec.securityContext ?? {};
  const c = container.securityContext ?? {};
  const where = `container ${container.name}`;
  expect(c.runAsNonRoot ?? pod.runAsNonRoot, `${where}: runAsNonRoot`).toBe(true);
  const uid = c.runAsUser ?? pod.runAsUser;
  // A numeric, non-zero UID lets the kubelet verify runAsNonRoot without reading the image.
  expect(typeof uid === 'number' && uid > 0, `${where}: numeric non-root runAsUser (got ${uid})`).toBe(true);
  expect(c.allowPrivilegeEscalation, `${where}: allowPrivilegeEscalation`).toBe(false);
  expect(c.privileged ?? false, `${where}: privileged`).toBe(false);
  expect(c.readOnlyRootFilesystem, `${where}: readOnlyRootFilesystem`).toBe(true);
  expect(c.capabilities?.drop, `${where}: capabilities.drop`).toContain('ALL');
  expect(c.capabilities?.add ?? [], `${where}: capabilities.add`).toEqual([]);
  expect((c.seccompProfile ?? pod.seccompProfile)?.type, `${where}: seccompProfile`).toBe('RuntimeDefault');
}

describe.each(TARGETS)('render of %s', (target) => {
  it.each(ENTRY_NAMES)('has one MutatingWebhookConfiguration whose entry %s has the admission settings ws-drain relies on', (name) => {
    const webhook = webhookOf(render(target)).webhooks.find((w) => w.name === name)!;
    expect(webhook.admissionReviewVersions).toEqual(['v1']);
    expect(webhook.sideEffects).toBe('None');
    expect(webhook.timeoutSeconds).toBe(5);
    expect(webhook.reinvocationPolicy).toBe('IfNeeded');
    expect(webhook.matchPolicy).toBe('Equivalent');
    expect(['Ignore', 'Fail']).toContain(webhook.failurePolicy);
    expect(webhook.rules).toEqual([
      { operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' },
    ]);
    // cert-manager fills the caBundle; a committed one would go stale at the first rotation.
    expect(webhook.clientConfig.caBundle).toBeUndefined();
    expect(webhook.clientConfig.url).toBeUndefined();
  });

  it('never sends kube-system, its own namespace or opted-out namespaces and pods; sends every other pod to exactly one entry', () => {
    const { webhook, byNamespace, webhooks } = webhookOf(render(target));
    const entriesFor = (labels: Record<string, string>) => webhooks.filter((w) => selects(w.namespaceSelector, labels)).map((w) => w.name);
    expect(entriesFor(nsLabels('kube-system'))).toEqual([]);
    expect(entriesFor(nsLabels(NAMESPACE))).toEqual([]);
    expect(entriesFor(nsLabels('shop', { [OPT_OUT_LABEL]: 'disabled' }))).toEqual([]);
    expect(entriesFor(nsLabels('shop'))).toEqual([webhook.name]);
    expect(entriesFor(nsLabels('shop', { [OPT_OUT_LABEL]: 'yes' }))).toEqual([webhook.name]);
    expect(entriesFor(nsLabels('shop', { [OPT_OUT_LABEL]: 'enabled' }))).toEqual([byNamespace.name]);
    for (const w of webhooks) {
      expect(selects(w.objectSelector, { app: 'chat', [OPT_OUT_LABEL]: 'disabled' })).toBe(false);
      expect(selects(w.objectSelector, { app: 'chat' })).toBe(true);
    }
  });

  it('sends pods that carry a ws-drain/ annotation, and in opted-in namespaces also pods with a TCP port (matchConditions)', () => {
    const { webhook, byNamespace } = webhookOf(render(target));
    const expressions = (webhook.matchConditions ?? []).map((m) => m.expression);
    expect(expressions).toHaveLength(1);
    expect(expressions[0]).toContain("startsWith('ws-drain/')");
    const byNs = (byNamespace.matchConditions ?? []).map((m) => m.expression);
    expect(byNs).toHaveLength(1);
    expect(byNs[0]).toContain("startsWith('ws-drain/')");
    expect(byNs[0]).toContain("p.protocol == 'TCP'");
  });

  it.each(ENTRY_NAMES)('points %s at the Service port that reaches the container port the server listens on, path /mutate', (name) => {
    const objects = render(target);
    const webhook = webhookOf(objects).webhooks.find((w) => w.name === name)!;
    const ref = webhook.clientConfig.service;
    expect(ref.path).toBe('/mutate');
    const service = one(objects, 'Service', Service, ref.name);
    expect(service.metadata.namespace).toBe(ref.namespace);
    const servicePort = service.spec.ports.find((p) => p.port === ref.port);
    if (!servicePort) throw new Error(`Service ${ref.name} has no port ${ref.port}`);

    const deployment = one(objects, 'Deployment', Deployment);
    expect(deployment.metadata.namespace).toBe(ref.namespace);
    expect(selects({ matchLabels: service.spec.selector }, deployment.spec.template.metadata.labels)).toBe(true);
    const container = webhookContainer(deployment);
    const containerPort = container.ports?.find((p) =>
      typeof servicePort.targetPort === 'number' ? p.containerPort === servicePort.targetPort : p.name === servicePort.targetPort,
    );
    if (!containerPort) throw new Error(`Service targetPort ${servicePort.targetPort} matches no container port`);
    expect(String(containerPort.containerPort)).toBe(argValue(container, 'port'));

    // The metrics port: Service, container and flag agree.
    const metricsPort = container.ports?.find((p) => p.name === 'metrics')?.containerPort;
    expect(String(metricsPort)).toBe(argValue(container, 'metrics-port'));
    expect(service.spec.ports.find((p) => p.name === 'metrics')?.targetPort).toBe('metrics');
  });

  it('injects the CA of a Certificate that exists, covers the Service DNS name and is the mounted secret', () => {
    const objects = render(target);
    const { config, webhook } = webhookOf(objects);
    const injectFrom = config.metadata.annotations?.['cert-manager.io/inject-ca-from'];
    expect(injectFrom).toBe(`${NAMESPACE}/ws-drain-webhook`);
    const [certNamespace, certName] = (injectFrom ?? '').split('/');
    const serving = one(objects, 'Certificate', Certificate, certName);
    expect(serving.metadata.namespace).toBe(certNamespace);
    const svc = webhook.clientConfig.service;
    // The API server dials <service>.<namespace>.svc and verifies that name.
    expect(serving.spec.dnsNames).toContain(`${svc.name}.${svc.namespace}.svc`);
    expect(serving.spec.dnsNames).toContain(`${svc.name}.${svc.namespace}.svc.cluster.local`);

    const deployment = one(objects, 'Deployment', Deployment);
    const volume = deployment.spec.template.spec.volumes?.find((v) => v.secret?.secretName === serving.spec.secretName);
    if (!volume) throw new Error(`no volume mounts the serving secret ${serving.spec.secretName}`);
    const mount = webhookContainer(deployment).volumeMounts?.find((m) => m.name === volume.name);
    if (!mount) throw new Error(`volume ${volume.name} is not mounted into the webhook container`);
    // subPath mounts are never updated by the kubelet: rotation would not reach the server.
    expect(mount.subPath).toBeUndefined();
    expect(mount.readOnly).toBe(true);
    const container = webhookContainer(deployment);
    expect(argValue(container, 'tls-cert')).toBe(`${mount.mountPath}/tls.crt`);
    expect(argValue(container, 'tls-key')).toBe(`${mount.mountPath}/tls.key`);
  });

  it('issues the serving certificate from a private CA, and both renew before they expire', () => {
    const objects = render(target);
    const serving = one(objects, 'Certificate', Certificate, 'ws-drain-webhook');
    expect(serving.spec.isCA ?? false).toBe(false);
    const caIssuer = one(objects, serving.spec.issuerRef.kind, Issuer, serving.spec.issuerRef.name);
    const caSecret = caIssuer.spec.ca?.secretName;
    if (!caSecret) throw new Error(`issuer ${serving.spec.issuerRef.name} is not a CA issuer`);
    const ca = ofKind(objects, 'Certificate')
      .map((o) => Certificate.parse(o))
      .find((c) => c.spec.secretName === caSecret);
    if (!ca) throw new Error(`no Certificate produces the CA secret ${caSecret}`);
    expect(ca.spec.isCA).toBe(true);
    const root = one(objects, ca.spec.issuerRef.kind, Issuer, ca.spec.issuerRef.name);
    expect(root.spec.selfSigned).toBeDefined();
    for (const cert of [serving, ca]) {
      const duration = durationSeconds(cert.spec.duration);
      const renewBefore = durationSeconds(cert.spec.renewBefore);
      expect(renewBefore).toBeGreaterThan(0);
      expect(renewBefore).toBeLessThan(duration);
    }
    // The serving certificate renews well before the CA does, so a leaf is never signed by a CA about to expire.
    expect(durationSeconds(serving.spec.duration)).toBeLessThan(durationSeconds(ca.spec.renewBefore));
  });

  it('guards opted-in pods with a ValidatingAdmissionPolicy scoped exactly like the webhook', () => {
    const objects = render(target);
    const { webhook, webhooks } = webhookOf(objects);
    const policy = one(objects, 'ValidatingAdmissionPolicy', ValidatingAdmissionPolicy);
    const binding = one(objects, 'ValidatingAdmissionPolicyBinding', ValidatingAdmissionPolicyBinding);
    expect(binding.spec.policyName).toBe(policy.metadata.name);
    expect(binding.spec.validationActions).toEqual(['Deny']);
    for (const w of webhooks) expect(policy.spec.matchConstraints.resourceRules).toEqual(w.rules);
    // Where the webhook is never called, a missing ws-drain/injected is expected:
    // the binding covers exactly the namespaces some entry covers.
    for (const labels of SAMPLE_NAMESPACES) {
      expect(selects(binding.spec.matchResources.namespaceSelector, labels), JSON.stringify(labels)).toBe(webhooks.some((w) => selects(w.namespaceSelector, labels)));
    }
    for (const w of webhooks) expect(binding.spec.matchResources.objectSelector).toEqual(w.objectSelector);
    expect(webhook.objectSelector).toEqual(binding.spec.matchResources.objectSelector);
    const message = policy.spec.validations.map((v) => v.message ?? '').join('\n');
    for (const key of ['ws-drain/session-p95', 'ws-drain/enabled', 'ws-drain/injected']) expect(message).toContain(key);
    const cel = [...(policy.spec.variables ?? []).map((v) => v.expression), ...policy.spec.validations.map((v) => v.expression)].join('\n');
    for (const key of ['ws-drain/session-p95', 'ws-drain/enabled', 'ws-drain/injected', 'ws-drain.io/inject']) expect(cel).toContain(`'${key}'`);
    // Namespace opt-in is visible to a policy (not to a webhook's matchConditions).
    expect(cel).toContain('namespaceObject.metadata.labels');
  });

  it('validates workload templates and Namespaces (POST /validate) with the webhook\'s selectors, fail-open, side-effect free', () => {
    const objects = render(target);
    const { config, webhook, byNamespace } = webhookOf(objects);
    const validating = one(objects, 'ValidatingWebhookConfiguration', ValidatingWebhookConfiguration, 'ws-drain');
    expect(validating.webhooks.map((w) => w.name)).toEqual(['validate.ws-drain.io', 'validate-by-namespace.ws-drain.io', 'validate-namespaces.ws-drain.io']);
    const [v, vByNamespace, vNamespaces] = validating.webhooks as [typeof validating.webhooks[0], typeof validating.webhooks[0], typeof validating.webhooks[0]];
    for (const entry of validating.webhooks) {
      expect(entry.sideEffects).toBe('None');
      expect(entry.failurePolicy).toBe('Ignore');
      expect(entry.admissionReviewVersions).toEqual(['v1']);
      expect(entry.objectSelector).toEqual(webhook.objectSelector);
      expect(entry.clientConfig.service).toEqual({ ...webhook.clientConfig.service, path: '/validate' });
    }
    // Workloads: the same two scopes as the pods' entries.
    expect(v.namespaceSelector).toEqual(webhook.namespaceSelector);
    expect(vByNamespace.namespaceSelector).toEqual(byNamespace.namespaceSelector);
    expect(validating.metadata.annotations?.['cert-manager.io/inject-ca-from']).toBe(config.metadata.annotations?.['cert-manager.io/inject-ca-from']);
    const judged = (entry: typeof v) => entry.rules.flatMap((r) => r.resources.map((res) => `${r.apiGroups.join('|')}/${res}:${r.operations.join(',')}`)).sort();
    const workloads = ['apps/daemonsets', 'apps/deployments', 'apps/replicasets', 'apps/statefulsets', 'argoproj.io/rollouts', 'batch/cronjobs', 'batch/jobs'].map((r) => `${r}:CREATE,UPDATE`);
    expect(judged(v)).toEqual(workloads);
    expect(judged(vByNamespace)).toEqual(workloads);
    const cel = (v.matchConditions ?? []).map((m) => m.expression).join('\n');
    for (const path of ['object.metadata.annotations', 'object.spec.template.metadata.annotations', 'object.spec.jobTemplate.spec.template.metadata.annotations']) expect(cel).toContain(path);
    // Namespaces: every one the pods' entries may read defaults from.
    expect(judged(vNamespaces)).toEqual(['/namespaces:CREATE,UPDATE']);
    for (const labels of SAMPLE_NAMESPACES) {
      expect(selects(vNamespaces.namespaceSelector, labels), JSON.stringify(labels)).toBe(selects(webhook.namespaceSelector, labels) || selects(byNamespace.namespaceSelector, labels));
    }
    expect((vNamespaces.matchConditions ?? []).map((m) => m.expression).join('\n')).toContain("startsWith('ws-drain/')");
  });

  it('excludes the same namespaces in the webhook, the policy binding and the server flags', () => {
    const objects = render(target);
    const { webhook, webhooks } = webhookOf(objects);
    const fromSelector = excludedByName(webhook.namespaceSelector);
    expect(fromSelector).toEqual(expect.arrayContaining(['kube-system', NAMESPACE]));
    for (const w of webhooks) expect(excludedByName(w.namespaceSelector)).toEqual(fromSelector);
    const validating = one(objects, 'ValidatingWebhookConfiguration', ValidatingWebhookConfiguration, 'ws-drain');
    for (const w of validating.webhooks) expect(excludedByName(w.namespaceSelector)).toEqual(fromSelector);
    const binding = one(objects, 'ValidatingAdmissionPolicyBinding', ValidatingAdmissionPolicyBinding);
    expect(excludedByName(binding.spec.matchResources.namespaceSelector)).toEqual(fromSelector);
    const config = serveConfig(one(objects, 'Deployment', Deployment));
    expect([...config.excludeNamespaces].sort()).toEqual(fromSelector);
  });

  it('runs the webhook as a restricted, probed, resource-bounded pod that may read namespaces and nothing else', () => {
    const objects = render(target);
    const deployment = one(objects, 'Deployment', Deployment);
    const pod = deployment.spec.template.spec;
    expect(selects(deployment.spec.selector, deployment.spec.template.metadata.labels)).toBe(true);
    // The namespace informer uses the pod's token; the ServiceAccount does not mount it into other pods.
    expect(pod.automountServiceAccountToken).toBe(true);
    expect(argValue(webhookContainer(deployment), 'namespace-source')).toBe('cluster');
    for (const container of [...pod.containers, ...(pod.initContainers ?? [])]) {
      expectRestricted(deployment, container);
      for (const kind of ['requests', 'limits'] as const) {
        expect(container.resources?.[kind]?.['cpu'], `${container.name} ${kind}.cpu`).toBeDefined();
        expect(container.resources?.[kind]?.['memory'], `${container.name} ${kind}.memory`).toBeDefined();
      }
    }
    const container = webhookContainer(deployment);
    expect(container.readinessProbe?.httpGet).toMatchObject({ path: '/readyz', port: 'https', scheme: 'HTTPS' });
    expect(container.livenessProbe?.httpGet).toMatchObject({ path: '/healthz', port: 'https', scheme: 'HTTPS' });

    // get/list/watch on namespaces, bound to the webhook's ServiceAccount: the whole grant.
    for (const kind of ['Role', 'RoleBinding']) expect(ofKind(objects, kind)).toEqual([]);
    const roles = ofKind(objects, 'ClusterRole').map((o) => z.looseObject({ metadata: z.looseObject({ name: z.string() }), rules: z.array(z.unknown()) }).parse(o));
    expect(roles.map((r) => r.rules)).toEqual([[{ apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch'] }]]);
    const bindings = ofKind(objects, 'ClusterRoleBinding');
    expect(bindings).toHaveLength(1);
    expect(bindings[0]).toMatchObject({
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: roles[0]!.metadata.name },
      subjects: [{ kind: 'ServiceAccount', name: pod.serviceAccountName, namespace: deployment.metadata.namespace }],
    });
    const sa = one(objects, 'ServiceAccount', z.looseObject({ automountServiceAccountToken: z.boolean() }), pod.serviceAccountName);
    expect(sa.automountServiceAccountToken).toBe(false);
  });

  it('drains its own in-flight reviews on rollout: preStop sleep + shutdown timeout fit in the grace period', () => {
    const deployment = one(render(target), 'Deployment', Deployment);
    const container = webhookContainer(deployment);
    const sleep = container.lifecycle?.preStop?.sleep?.seconds;
    expect(sleep).toBeGreaterThan(0);
    const shutdownTimeout = durationSeconds(argValue(container, 'shutdown-timeout') ?? '10s');
    const grace = deployment.spec.template.spec.terminationGracePeriodSeconds ?? 30;
    expect(grace).toBeGreaterThan((sleep ?? 0) + shutdownTimeout);
  });

  it('lets into the webhook pods only its https and metrics ports, and out only to the API server ports', () => {
    const objects = render(target);
    const deployment = one(objects, 'Deployment', Deployment);
    const policies = ofKind(objects, 'NetworkPolicy').map((o) => NetworkPolicy.parse(o));
    expect(policies).toHaveLength(1);
    const policy = policies[0]!;
    expect(policy.metadata.namespace).toBe(deployment.metadata.namespace);
    expect(selects(policy.spec.podSelector, deployment.spec.template.metadata.labels)).toBe(true);
    expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(policy.spec.egress).toEqual([{ ports: [{ port: 443, protocol: 'TCP' }, { port: 6443, protocol: 'TCP' }] }]);
    const container = webhookContainer(deployment);
    const named = new Set((container.ports ?? []).map((p) => p.name));
    const opened = policy.spec.ingress.flatMap((rule) => rule.ports ?? [{ port: '*every port*' }]).map((p) => p.port);
    expect(opened.sort()).toEqual(['https', 'metrics']);
    for (const port of opened) expect(named.has(String(port)), `${String(port)} is a named port of the webhook container`).toBe(true);
  });

  it('keeps a PodDisruptionBudget that lets exactly some, never all, replicas go', () => {
    const objects = render(target);
    const deployment = one(objects, 'Deployment', Deployment);
    const pdb = one(objects, 'PodDisruptionBudget', PodDisruptionBudget);
    expect(pdb.metadata.namespace).toBe(deployment.metadata.namespace);
    expect(selects(pdb.spec.selector, deployment.spec.template.metadata.labels)).toBe(true);
    const minAvailable = pdb.spec.minAvailable ?? Number.NaN;
    expect(minAvailable).toBeGreaterThanOrEqual(1);
    expect(minAvailable).toBeLessThan(deployment.spec.replicas);
    expect(deployment.spec.replicas).toBeGreaterThanOrEqual(2);
  });

  it('sets the webhook image (kustomize `images:`, chart values) and gives the server settings it accepts', () => {
    const deployment = one(render(target), 'Deployment', Deployment);
    const raw: unknown = parseYaml(readFileSync(join(REPO_ROOT, 'manifests/base/deployment.yaml'), 'utf8'));
    const placeholder = webhookContainer(Deployment.parse(raw)).image;
    const image = webhookContainer(deployment).image;
    expect(image).not.toBe(placeholder);
    expect(image).toMatch(/^ghcr\.io\/ws-drain\/ws-drain-webhook(:[\w.-]+|@sha256:[0-9a-f]{64})$/);
    // Parsing through the CLI throws on any value `ws-drain serve` would refuse at startup.
    const config = serveConfig(deployment);
    expect(config.helperImage).toMatch(/^ghcr\.io\/ws-drain\/ws-drain-helper(:[\w.-]+|@sha256:[0-9a-f]{64})$/);
  });
});

describe('overlays against the base', () => {
  /** The render with one object replaced by a transformed copy; for "differs only in" checks. */
  function withReplaced(objects: KubeObject[], kind: string, transform: (o: KubeObject) => unknown): unknown[] {
    return objects.map((o) => (o.kind === kind ? transform(structuredClone(o)) : o));
  }

  it('manifests/ installs exactly the base', () => {
    expect(render('manifests')).toEqual(render('manifests/base'));
  });

  it('base: two replicas spread over nodes (hard) and zones (soft), scrape annotations on the metrics port', () => {
    const deployment = one(render('manifests/base'), 'Deployment', Deployment);
    expect(deployment.spec.replicas).toBe(2);
    const spread = deployment.spec.template.spec.topologySpreadConstraints ?? [];
    const byKey = new Map(spread.map((c) => [c.topologyKey, c]));
    expect(byKey.get('kubernetes.io/hostname')?.whenUnsatisfiable).toBe('DoNotSchedule');
    expect(byKey.get('topology.kubernetes.io/zone')?.whenUnsatisfiable).toBe('ScheduleAnyway');
    for (const c of spread) expect(selects(c.labelSelector ?? {}, deployment.spec.template.metadata.labels)).toBe(true);
    const annotations = deployment.spec.template.metadata.annotations ?? {};
    expect(annotations['prometheus.io/scrape']).toBe('true');
    expect(annotations['prometheus.io/port']).toBe(argValue(webhookContainer(deployment), 'metrics-port'));
    expect(annotations['prometheus.io/path']).toBe('/metrics');
  });

  it('base: ships the same settings as the CLI defaults, so `ws-drain inject` offline matches the cluster', () => {
    const base = render('manifests/base');
    const config = serveConfig(one(base, 'Deployment', Deployment));
    const { helperVersion: _ignored, ...expected } = { ...DEFAULT_CONFIG, excludeNamespaces: [...DEFAULT_CONFIG.excludeNamespaces].sort() };
    const { helperVersion: _ignored2, ...actual } = { ...config, excludeNamespaces: [...config.excludeNamespaces].sort() };
    expect(actual).toEqual(expected);
    // Webhook and helper images are released together under one version.
    const webhookTag = webhookContainer(one(base, 'Deployment', Deployment)).image.split(':').pop();
    expect(config.helperImage.split(':').pop()).toBe(webhookTag);
  });

  it('fail-closed differs from the base only in failurePolicy: Fail', () => {
    const failClosed = render('manifests/overlays/fail-closed');
    expect(webhookOf(failClosed).webhooks.map((w) => w.failurePolicy)).toEqual(['Fail', 'Fail']);
    expect(webhookOf(render('manifests/base')).webhooks.map((w) => w.failurePolicy)).toEqual(['Ignore', 'Ignore']);
    const reverted = withReplaced(failClosed, 'MutatingWebhookConfiguration', (o) => {
      const config = MutatingWebhookConfiguration.parse(o);
      for (const w of config.webhooks) w.failurePolicy = 'Ignore';
      return config;
    });
    expect(reverted).toEqual(render('manifests/base'));
  });

  it('ha: three replicas, hard zone spread, a PDB that allows one disruption; nothing else changes', () => {
    const ha = render('manifests/overlays/ha');
    const deployment = one(ha, 'Deployment', Deployment);
    expect(deployment.spec.replicas).toBe(3);
    const zone = deployment.spec.template.spec.topologySpreadConstraints?.find((c) => c.topologyKey === 'topology.kubernetes.io/zone');
    expect(zone?.whenUnsatisfiable).toBe('DoNotSchedule');
    const pdb = one(ha, 'PodDisruptionBudget', PodDisruptionBudget);
    expect(deployment.spec.replicas - (pdb.spec.minAvailable ?? 0)).toBe(1);
    const unchanged = (objects: KubeObject[]) => objects.filter((o) => o.kind !== 'Deployment' && o.kind !== 'PodDisruptionBudget');
    expect(unchanged(ha)).toEqual(unchanged(render('manifests/base')));
  });

  it('monitoring: a ServiceMonitor on the metrics port replaces the scrape annotations; alerts name the real objects', () => {
    const objects = render('manifests/overlays/monitoring');
    const monitor = one(objects, 'ServiceMonitor', ServiceMonitor);
    const service = one(objects, 'Service', Service, 'ws-drain-webhook');
    expect(monitor.metadata.namespace).toBe(service.metadata.namespace);
    expect(monitor.spec.namespaceSelector.matchNames).toEqual([service.metadata.namespace]);
    expect(selects(monitor.spec.selector, service.metadata.labels ?? {})).toBe(true);
    const servicePortNames = service.spec.ports.map((p) => p.name);
    for (const endpoint of monitor.spec.endpoints) {
      expect(servicePortNames).toContain(endpoint.port);
      expect(endpoint.path).toBe('/metrics');
    }
    const deployment = one(objects, 'Deployment', Deployment);
    const annotations = Object.keys(deployment.spec.template.metadata.annotations ?? {});
    expect(annotations.filter((k) => k.startsWith('prometheus.io/'))).toEqual([]);

    const { webhooks } = webhookOf(objects);
    const policy = one(objects, 'ValidatingAdmissionPolicy', ValidatingAdmissionPolicy);
    const exprs = one(objects, 'PrometheusRule', PrometheusRule).spec.groups.flatMap((g) => g.rules.map((r) => r.expr));
    expect(exprs.some((e) => e.includes('ws_drain_admission_requests_total{outcome="error"}'))).toBe(true);
    // Alerts on API server metrics must use the names the API server reports: every mutating entry.
    for (const e of exprs.filter((x) => x.includes('apiserver_admission_webhook'))) {
      for (const w of webhooks) expect(e).toMatch(new RegExp(`name=~?"([^"]*\\|)?${w.name.replaceAll('.', '\\.')}`));
    }
    for (const e of exprs.filter((x) => x.includes('apiserver_validating_admission_policy'))) expect(e).toContain(`policy="${policy.metadata.name}"`);
    expect(exprs.some((e) => e.includes('certmanager_certificate_expiration_timestamp_seconds'))).toBe(true);
  });

  it('example-config: both images pinned by digest, changed defaults reach the server, extra exclusion agrees', () => {
    const objects = render('manifests/overlays/example-config');
    const deployment = one(objects, 'Deployment', Deployment);
    expect(webhookContainer(deployment).image).toMatch(/@sha256:[0-9a-f]{64}$/);
    const config = serveConfig(deployment);
    expect(config.helperImage).toMatch(/@sha256:[0-9a-f]{64}$/);
    const base = serveConfig(one(render('manifests/base'), 'Deployment', Deployment));
    expect(config.maxGraceSeconds).not.toBe(base.maxGraceSeconds);
    expect(config.defaultPrestopDelaySeconds).not.toBe(base.defaultPrestopDelaySeconds);
    expect(config.excludeNamespaces.length).toBeGreaterThan(base.excludeNamespaces.length);
  });
});
