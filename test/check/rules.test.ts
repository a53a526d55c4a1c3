// The check rules on hand-built snapshots: each finding from the smallest
// object set that triggers it, and a clean install that triggers none.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateDevCerts } from '../../src/certs/dev-certs.js';
import { DEFAULT_CONFIG } from '../../src/core/config.js';
import { decide } from '../../src/core/decide.js';
import { CODES, exitCodeFor } from '../../src/check/findings.js';
import { runChecks } from '../../src/check/report.js';
import { render } from '../../src/check/render.js';
import type { Snapshot, WebhookProbe } from '../../src/check/snapshot.js';

const NOW = new Date('2026-12-01T00:00:00Z');
const FALLBACK = { config: DEFAULT_CONFIG, source: 'test defaults' };
let CA_B64 = '';
beforeAll(async () => {
  CA_B64 = Buffer.from((await generateDevCerts({ hosts: ['127.0.0.1'], days: 3650 })).caCert).toString('base64');
});

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- fixtures

function webhookConfig(clientConfig: Obj, failurePolicy = 'Ignore'): Obj {
  return {
    metadata: { name: 'ws-drain' },
    webhooks: [
      {
        name: 'inject.ws-drain.io',
        failurePolicy,
        namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'ws-drain-system'] }, { key: 'ws-drain.io/inject', operator: 'NotIn', values: ['disabled'] }] },
        objectSelector: { matchExpressions: [{ key: 'ws-drain.io/inject', operator: 'NotIn', values: ['disabled'] }] },
        clientConfig,
      },
    ],
  };
}

const goodProbe: WebhookProbe = {
  configName: 'ws-drain',
  webhookName: 'inject.ws-drain.io',
  method: 'direct',
  target: '127.0.0.1:8443',
  serverName: '127.0.0.1',
  errors: [],
  verified: true,
  served: { subject: 'CN=webhook', issuer: 'CN=ca', validFrom: '2026-01-01T00:00:00.000Z', validTo: '2027-12-01T00:00:00.000Z' },
};

function ns(name: string, labels: Record<string, string> = {}): Obj {
  return { metadata: { name, labels: { 'kubernetes.io/metadata.name': name, ...labels } } };
}

function template(annotations: Record<string, string>, labels: Record<string, string> = { app: 'chat' }): Obj {
  return {
    metadata: { labels, annotations },
    spec: { containers: [{ name: 'app', image: 'chat:1', ports: [{ name: 'ws', containerPort: 8080, protocol: 'TCP' }] }] },
  };
}

function deployment(name: string, annotations: Record<string, string>, extra: Obj = {}): Obj {
  return { metadata: { name, namespace: 'demo' }, spec: { selector: { matchLabels: { app: name } }, template: template(annotations, { app: name }), ...extra } };
}

/** A healthy install: URL webhook verified, guard and binding present, one namespace. */
function cleanSnapshot(): Snapshot {
  return {
    now: NOW,
    scope: ['demo'],
    namespaces: [ns('demo')] as never,
    nodes: [],
    webhookConfigs: [webhookConfig({ url: 'https://127.0.0.1:8443/mutate', caBundle: CA_B64 })] as never,
    policies: [{ metadata: { name: 'ws-drain-require-injection' } }],
    policyBindings: [{ metadata: { name: 'ws-drain-require-injection' }, spec: { policyName: 'ws-drain-require-injection', validationActions: ['Deny'] } }],
    services: [],
    endpointSlices: [],
    deployments: [],
    statefulSets: [],
    daemonSets: [],
    replicaSets: [],
    jobs: [],
    cronJobs: [],
    rollouts: [],
    pods: [],
    ingresses: [],
    ingressClasses: [],
    httpRoutes: [],
    backendConfigs: [],
    configMaps: [],
    probes: [goodProbe],
    unreadable: [],
  };
}

function codes(s: Snapshot): string[] {
  return runChecks(s, FALLBACK).findings.map((f) => f.code);
}

describe('clean install', () => {
  it('has no findings and exit code 0, and lists the plan the core gives', () => {
    const s = cleanSnapshot();
    s.deployments.push(deployment('chat', { 'ws-drain/session-p95': '5m' }) as never);
    s.services.push({ metadata: { name: 'chat', namespace: 'demo' }, spec: { selector: { app: 'chat' }, ports: [{ port: 80 }] } } as never);
    const report = runChecks(s, FALLBACK);
    expect(report.findings).toEqual([]);
    expect(report.exitCode).toBe(0);
    const d = decide({ apiVersion: 'v1', kind: 'Pod', ...template({ 'ws-drain/session-p95': '5m' }, { app: 'chat' }) }, 'demo', DEFAULT_CONFIG);
    expect(d.kind).toBe('mutate');
    expect(report.workloads).toHaveLength(1);
    expect(report.workloads[0]!.plan).toEqual(d.kind === 'mutate' ? d.plan : undefined);
    expect(report.workloads[0]!.services).toEqual([{ kind: 'Service', namespace: 'demo', name: 'chat' }]);
    expect(render(report, 'table')).toContain('No findings');
  });
});

describe('install', () => {
  it('WSD101 without a ws-drain webhook', () => {
    const s = cleanSnapshot();
    s.webhookConfigs = [];
    s.probes = [];
    expect(codes(s)).toEqual(['WSD101']);
  });

  it('WSD102 when the Service is missing, WSD103 when it has no ready endpoints', () => {
    const s = cleanSnapshot();
    s.webhookConfigs = [webhookConfig({ service: { name: 'ws-drain-webhook', namespace: 'ws-drain-system', port: 443 }, caBundle: CA_B64 })] as never;
    s.probes = [{ ...goodProbe, method: 'none', errors: ['x'], serverName: 'ws-drain-webhook.ws-drain-system.svc' }];
    s.policies = [{ metadata: { name: 'ws-drain-require-injection' } }];
    expect(codes(s)).toEqual(['WSD102']);
    s.services.push({ metadata: { name: 'ws-drain-webhook', namespace: 'ws-drain-system' }, spec: { selector: { app: 'w' } } } as never);
    s.endpointSlices.push({ metadata: { name: 'x', namespace: 'ws-drain-system', labels: { 'kubernetes.io/service-name': 'ws-drain-webhook' } }, endpoints: [{ addresses: ['10.0.0.9'], conditions: { ready: false } }] } as never);
    const f = runChecks(s, FALLBACK).findings;
    expect(f.map((x) => x.code)).toEqual(['WSD103']);
    expect(f[0]!.message).toContain('opted-in pods are created un-injected');
  });

  it('WSD104 when nothing answers although endpoints are ready', () => {
    const s = cleanSnapshot();
    s.probes = [{ ...goodProbe, method: 'none', errors: ['127.0.0.1:8443: ECONNREFUSED'] }];
    const f = runChecks(s, FALLBACK).findings;
    expect(f.map((x) => x.code)).toEqual(['WSD104']);
    expect(f[0]!.message).toContain('ECONNREFUSED');
  });

  it('WSD105 for an empty caBundle and for a caBundle that does not verify the served certificate', () => {
    const s = cleanSnapshot();
    s.webhookConfigs = [webhookConfig({ url: 'https://127.0.0.1:8443/mutate' })] as never;
    s.probes = [{ ...goodProbe, verified: undefined }];
    expect(codes(s)).toEqual(['WSD105']);
    const t = cleanSnapshot();
    t.probes = [{ ...goodProbe, verified: false, verifyError: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }];
    const f = runChecks(t, FALLBACK).findings;
    expect(f.map((x) => x.code)).toEqual(['WSD105']);
    expect(f[0]!.message).toContain('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('WSD106 warns 30 days ahead and is an error once expired', () => {
    const s = cleanSnapshot();
    s.probes = [{ ...goodProbe, served: { ...goodProbe.served!, validTo: '2026-12-11T00:00:00.000Z' } }];
    const soon = runChecks(s, FALLBACK).findings;
    expect(soon.map((f) => [f.code, f.severity])).toEqual([['WSD106', 'warning']]);
    expect(soon[0]!.message).toContain('in 10 days');
    s.probes = [{ ...goodProbe, served: { ...goodProbe.served!, validTo: '2026-11-30T00:00:00.000Z' } }];
    expect(runChecks(s, FALLBACK).findings.map((f) => [f.code, f.severity])).toEqual([['WSD106', 'error']]);
  });

  it('WSD107 (a note, exit 0) when only the service proxy reached the webhook', () => {
    const s = cleanSnapshot();
    s.probes = [{ ...goodProbe, method: 'service-proxy', proxyStatus: 200, errors: ['10.0.0.9:8443: ETIMEDOUT'], verified: undefined }];
    const r = runChecks(s, FALLBACK);
    expect(r.findings.map((f) => f.code)).toEqual(['WSD107']);
    expect(r.exitCode).toBe(0);
  });

  it('WSD108/WSD109: guard missing is an error with failurePolicy Ignore, a binding without Deny counts as missing', () => {
    const s = cleanSnapshot();
    s.policies = [];
    expect(runChecks(s, FALLBACK).findings.map((f) => [f.code, f.severity])).toEqual([['WSD108', 'error']]);
    const t = cleanSnapshot();
    t.policyBindings = [{ metadata: { name: 'b' }, spec: { policyName: 'ws-drain-require-injection', validationActions: ['Warn'] } }];
    const f = runChecks(t, FALLBACK).findings;
    expect(f.map((x) => x.code)).toEqual(['WSD109']);
    expect(f[0]!.message).toContain('["Warn"]');
  });

  it('WSD110 notes failurePolicy Fail (also when defaulted)', () => {
    const s = cleanSnapshot();
    const config = webhookConfig({ url: 'https://127.0.0.1:8443/mutate', caBundle: CA_B64 }, 'Fail');
    delete config['webhooks'][0].failurePolicy;
    s.webhookConfigs = [config] as never;
    const r = runChecks(s, FALLBACK);
    expect(r.findings.map((f) => [f.code, f.severity])).toEqual([['WSD110', 'info']]);
    expect(r.exitCode).toBe(0);
  });

  it('WSD111 when the webhook image and the helper image differ; the Deployment\'s env sets the plan', () => {
    const s = cleanSnapshot();
    s.webhookConfigs = [webhookConfig({ service: { name: 'ws-drain-webhook', namespace: 'ws-drain-system', port: 443 }, caBundle: CA_B64 })] as never;
    s.services.push({ metadata: { name: 'ws-drain-webhook', namespace: 'ws-drain-system' }, spec: { selector: { app: 'webhook' } } } as never);
    s.endpointSlices.push({ metadata: { name: 'x', namespace: 'ws-drain-system', labels: { 'kubernetes.io/service-name': 'ws-drain-webhook' } }, endpoints: [{ addresses: ['10.0.0.9'] }] } as never);
    s.deployments.push({
      metadata: { name: 'ws-drain-webhook', namespace: 'ws-drain-system' },
      spec: {
        selector: { matchLabels: { app: 'webhook' } },
        template: {
          metadata: { labels: { app: 'webhook' } },
          spec: { containers: [{ name: 'webhook', image: 'ghcr.io/ws-drain/ws-drain-webhook:0.2.0', env: [{ name: 'WS_DRAIN_HELPER_IMAGE', value: 'ghcr.io/ws-drain/ws-drain-helper:0.1.0' }, { name: 'WS_DRAIN_DEFAULT_PRESTOP_DELAY', value: '45s' }] }] },
        },
      },
    } as never);
    s.deployments.push(deployment('chat', { 'ws-drain/session-p95': '5m' }) as never);
    const r = runChecks(s, FALLBACK);
    expect(r.findings.map((f) => f.code)).toEqual(['WSD111']);
    expect(r.configSource).toBe('Deployment ws-drain-system/ws-drain-webhook');
    expect(r.expectedHelperVersion).toBe('0.2.0');
    expect(r.workloads[0]!.plan!.prestopDelaySeconds).toBe(45);
  });
});

describe('workloads and pods', () => {
  it('WSD201 with the core\'s denial message', () => {
    const s = cleanSnapshot();
    s.deployments.push(deployment('bad', { 'ws-drain/session-p95': 'forever' }) as never);
    const f = runChecks(s, FALLBACK).findings;
    expect(f.map((x) => x.code)).toEqual(['WSD201']);
    expect(f[0]!.message).toContain('ws-drain/session-p95');
    expect(f[0]!.object).toEqual({ kind: 'Deployment', namespace: 'demo', name: 'bad' });
  });

  it('WSD202 for a running opted-in pod without ws-drain/injected, not for finished or opted-out pods', () => {
    const s = cleanSnapshot();
    const pod = (name: string, annotations: Record<string, string>, phase = 'Running'): Obj => ({
      metadata: { name, namespace: 'demo', annotations, ownerReferences: [{ kind: 'ReplicaSet', name: 'rs', controller: true }] },
      spec: { containers: [{ name: 'app', image: 'x' }], terminationGracePeriodSeconds: 30 },
      status: { phase },
    });
    s.pods.push(pod('slipped', { 'ws-drain/session-p95': '5m' }) as never, pod('done', { 'ws-drain/session-p95': '5m' }, 'Succeeded') as never, pod('out', { 'ws-drain/session-p95': '5m', 'ws-drain/enabled': 'false' }) as never);
    const f = runChecks(s, FALLBACK).findings;
    expect(f.map((x) => `${x.code} ${x.object.name}`)).toEqual(['WSD202 slipped']);
    expect(f[0]!.message).toContain('terminationGracePeriodSeconds 30');
  });

  it('WSD203 for a pod injected by an older helper', () => {
    const s = cleanSnapshot();
    s.pods.push({
      metadata: { name: 'old', namespace: 'demo', annotations: { 'ws-drain/session-p95': '5m', 'ws-drain/injected': '0.0.9', 'ws-drain/plan': '{}' }, ownerReferences: [{ kind: 'ReplicaSet', name: 'rs', controller: true }] },
      spec: { containers: [{ name: 'app', image: 'x' }] },
    } as never);
    const f = runChecks(s, FALLBACK).findings;
    expect(f.map((x) => x.code)).toEqual(['WSD203']);
    expect(f[0]!.message).toContain(`ws-drain 0.0.9; the webhook now injects ${DEFAULT_CONFIG.helperVersion}`);
  });

  it('WSD204 for pods on spot nodes and under cluster-autoscaler, unless safe-to-evict is false', () => {
    const s = cleanSnapshot();
    s.deployments.push(deployment('chat', { 'ws-drain/session-p95': '5m' }) as never);
    s.nodes.push({ metadata: { name: 'spot-1', labels: { 'cloud.google.com/gke-spot': 'true' } } });
    s.pods.push({
      metadata: { name: 'chat-1', namespace: 'demo', labels: { app: 'chat' }, annotations: { 'ws-drain/session-p95': '5m', 'ws-drain/injected': DEFAULT_CONFIG.helperVersion, 'ws-drain/plan': '{}' }, ownerReferences: [{ kind: 'ReplicaSet', name: 'rs', controller: true }] },
      spec: { nodeName: 'spot-1', containers: [{ name: 'app', image: 'x' }] },
    } as never);
    const f = runChecks(s, FALLBACK).findings;
    expect(f.map((x) => x.code)).toEqual(['WSD204']);
    expect(f[0]!.message).toContain('grace period 429 s');
    expect(f[0]!.message).toContain('longer than the 15 s the platform gives: GKE Spot node spot-1');

    // The template asking for spot nodes is enough, pods or not (the core's rule, as at admission).
    const u = cleanSnapshot();
    const asks = deployment('chat', { 'ws-drain/session-p95': '5m' });
    asks['spec'].template.spec.nodeSelector = { 'eks.amazonaws.com/capacityType': 'SPOT' };
    u.deployments.push(asks as never);
    const h = runChecks(u, FALLBACK).findings;
    expect(h.map((x) => x.code)).toEqual(['WSD204']);
    expect(h[0]!.message).toContain('the 120 s the platform gives: EKS Spot, which the pod spec asks for');
    expect(h[0]!.message).toContain('nodeSelector eks.amazonaws.com/capacityType');

    const t = cleanSnapshot();
    t.deployments.push(deployment('chat', { 'ws-drain/session-p95': '15m' }) as never);
    t.deployments.push({ metadata: { name: 'cluster-autoscaler', namespace: 'kube-system' }, spec: { template: { spec: { containers: [{ name: 'ca', args: ['--max-graceful-termination-sec=900'] }] } } } } as never);
    const g = runChecks(t, FALLBACK).findings;
    expect(g.map((x) => x.code)).toEqual(['WSD204']);
    expect(g[0]!.message).toContain('900 s');
    t.deployments[0] = deployment('chat', { 'ws-drain/session-p95': '15m', 'cluster-autoscaler.kubernetes.io/safe-to-evict': 'false' }) as never;
    expect(codes(t)).toEqual([]);
  });

  it('WSD205 for opted-in workloads the webhook never sees', () => {
    const s = cleanSnapshot();
    s.namespaces = [ns('demo', { 'ws-drain.io/inject': 'disabled' })] as never;
    s.deployments.push(deployment('chat', { 'ws-drain/session-p95': '5m' }) as never);
    const f = runChecks(s, FALLBACK).findings;
    expect(f.map((x) => x.code)).toEqual(['WSD205']);
    expect(f[0]!.message).toContain('namespaceSelector');
  });

  it('only reports workloads in scope', () => {
    const s = cleanSnapshot();
    s.deployments.push({ ...deployment('bad', { 'ws-drain/session-p95': 'forever' }), metadata: { name: 'bad', namespace: 'other' } } as never);
    expect(codes(s)).toEqual([]);
    s.scope = undefined;
    expect(codes(s)).toEqual(['WSD201']);
  });
});

describe('the path in front of opted-in workloads', () => {
  function routed(): Snapshot {
    const s = cleanSnapshot();
    s.deployments.push(deployment('chat', { 'ws-drain/session-p95': '5m' }) as never);
    s.services.push({ metadata: { name: 'chat', namespace: 'demo' }, spec: { selector: { app: 'chat' } } } as never);
    s.ingressClasses.push({ metadata: { name: 'nginx' }, spec: { controller: 'k8s.io/ingress-nginx' } });
    s.deployments.push({
      metadata: { name: 'ingress-nginx-controller', namespace: 'ingress-nginx' },
      spec: { template: { spec: { containers: [{ name: 'controller', args: ['/nginx-ingress-controller', '--configmap=ingress-nginx/ingress-nginx-controller', '--ingress-class=nginx'] }] } } },
    } as never);
    return s;
  }
  const ingress = (annotations: Record<string, string>): Obj => ({
    metadata: { name: 'chat', namespace: 'demo', annotations },
    spec: { ingressClassName: 'nginx', rules: [{ http: { paths: [{ backend: { service: { name: 'chat' } } }] } }] },
  });

  it('WSD301 and WSD302 with the numbers and where they come from (defaults: 60 s, 240 s)', () => {
    const s = routed();
    s.ingresses.push(ingress({}) as never);
    const f = runChecks(s, FALLBACK).findings;
    expect(f.map((x) => x.code).sort()).toEqual(['WSD301', 'WSD301', 'WSD302']);
    expect(f.find((x) => x.code === 'WSD301')!.message).toMatch(/is 60 s \(controller default\), shorter than the session p95 of Deployment demo\/chat \(300 s, grace 429 s\)/);
    expect(f.find((x) => x.code === 'WSD302')!.message).toContain('240 s (ingress-nginx default');
  });

  it('annotations and the controller ConfigMap that cover the session clear them', () => {
    const s = routed();
    s.ingresses.push(ingress({ 'nginx.ingress.kubernetes.io/proxy-read-timeout': '3600', 'nginx.ingress.kubernetes.io/proxy-send-timeout': '3600' }) as never);
    s.configMaps.push({ metadata: { name: 'ingress-nginx-controller', namespace: 'ingress-nginx' }, data: { 'worker-shutdown-timeout': '10m' } } as never);
    const r = runChecks(s, FALLBACK);
    expect(r.findings).toEqual([]);
    expect(r.workloads.find((w) => w.object.name === 'chat')!.ingresses).toEqual([{ kind: 'Ingress', namespace: 'demo', name: 'chat' }]);
  });

  it('the ConfigMap value is used when the annotation is absent; WSD304 for a value the controller ignores', () => {
    const s = routed();
    s.ingresses.push(ingress({ 'nginx.ingress.kubernetes.io/proxy-read-timeout': '600s' }) as never);
    s.configMaps.push({ metadata: { name: 'ingress-nginx-controller', namespace: 'ingress-nginx' }, data: { 'proxy-read-timeout': '120', 'proxy-send-timeout': '900', 'worker-shutdown-timeout': '300s' } } as never);
    const f = runChecks(s, FALLBACK).findings;
    expect(f.map((x) => x.code).sort()).toEqual(['WSD301', 'WSD304']);
    expect(f.find((x) => x.code === 'WSD301')!.message).toContain('proxy-read-timeout is 120 s (ConfigMap ingress-nginx/ingress-nginx-controller)');
  });

  it('WSD303 for HTTPRoute timeouts shorter than the session; 0s means none', () => {
    const s = routed();
    s.httpRoutes.push({
      metadata: { name: 'chat', namespace: 'demo' },
      spec: { rules: [{ backendRefs: [{ name: 'chat' }], timeouts: { request: '1m', backendRequest: '0s' } }, { backendRefs: [{ name: 'chat', kind: 'Service' }], timeouts: { request: '1h' } }, { backendRefs: [{ name: 'other' }], timeouts: { request: '1s' } }] },
    } as never);
    const f = runChecks(s, FALLBACK).findings;
    expect(f.map((x) => x.code)).toEqual(['WSD303']);
    expect(f[0]!.message).toContain('rules[0].timeouts.request is 1m (60 s)');
  });

  it('AWS ALB: WSD301 for the 60 s default idle timeout, none once idle_timeout.timeout_seconds covers the session', () => {
    const s = routed();
    s.ingressClasses.push({ metadata: { name: 'alb' }, spec: { controller: 'ingress.k8s.aws/alb' } });
    s.ingresses.push({ ...ingress({}), spec: { ...ingress({}).spec, ingressClassName: 'alb' } } as never);
    const f = runChecks(s, FALLBACK).findings;
    expect(f.map((x) => x.code)).toEqual(['WSD301']);
    expect(f[0]!.message).toContain('AWS ALB idle timeout is 60 s (ALB default)');
    s.ingresses[0]!.metadata.annotations = { 'alb.ingress.kubernetes.io/load-balancer-attributes': 'idle_timeout.timeout_seconds=600' };
    expect(codes(s)).toEqual([]);
    s.ingresses[0]!.metadata.annotations = { 'alb.ingress.kubernetes.io/load-balancer-attributes': 'idle_timeout.timeout_seconds=forever' };
    expect(codes(s).sort()).toEqual(['WSD301', 'WSD304']);
  });

  it('GKE Ingress: WSD305 for the 30 s backend timeout, none with a BackendConfig that covers the session', () => {
    const s = routed();
    s.ingresses.push({ ...ingress({}), spec: { ingressClassName: undefined, rules: [{ http: { paths: [{ backend: { service: { name: 'chat', port: { number: 80 } } } }] } }] }, metadata: { name: 'chat', namespace: 'demo', annotations: { 'kubernetes.io/ingress.class': 'gce' } } } as never);
    s.services[0]!.spec.ports = [{ name: 'http', port: 80 }];
    const f = runChecks(s, FALLBACK).findings;
    expect(f.map((x) => x.code)).toEqual(['WSD305']);
    expect(f[0]!.message).toContain('is 30 s (GCP default, no BackendConfig)');
    s.services[0]!.metadata.annotations = { 'cloud.google.com/backend-config': '{"ports": {"http": "long"}}' };
    expect(runChecks(s, FALLBACK).findings[0]!.message).toContain('BackendConfig long not found');
    s.backendConfigs.push({ metadata: { name: 'long', namespace: 'demo' }, spec: { timeoutSec: 3600 } });
    expect(codes(s)).toEqual([]);
  });

  it('WSD401 for maxSurge 0, WSD402 for Recreate, WSD403 for StatefulSets when the drain is long', () => {
    const s = cleanSnapshot();
    s.deployments.push(deployment('a', { 'ws-drain/session-p95': '5m' }, { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } } }) as never);
    s.deployments.push(deployment('b', { 'ws-drain/session-p95': '5m' }, { strategy: { type: 'Recreate' } }) as never);
    s.deployments.push(deployment('c', { 'ws-drain/session-p95': '10s', 'ws-drain/prestop-delay': '5s' }, { strategy: { type: 'Recreate' } }) as never);
    const f = runChecks(s, FALLBACK).findings;
    expect(f.map((x) => `${x.code} ${x.object.name}`).sort()).toEqual(['WSD401 a', 'WSD402 b']);
    const t = cleanSnapshot();
    t.statefulSets.push({ ...deployment('ss', { 'ws-drain/session-p95': '5m' }), spec: { ...deployment('ss', { 'ws-drain/session-p95': '5m' })['spec'], replicas: 3 } } as never);
    t.statefulSets.push({ ...deployment('one', { 'ws-drain/session-p95': '5m' }), spec: { ...deployment('one', { 'ws-drain/session-p95': '5m' })['spec'], replicas: 1 } } as never);
    const g = runChecks(t, FALLBACK).findings;
    expect(g.map((x) => `${x.code} ${x.object.kind}/${x.object.name}`)).toEqual(['WSD403 StatefulSet/ss']);
    expect(g[0]!.message).toContain('a rollout can take 960 s (16 min)');
  });
});

describe('report', () => {
  it('WSD901 for what could not be read; notes alone exit 0, warnings exit 1', () => {
    const s = cleanSnapshot();
    s.unreadable.push({ resource: 'nodes', reason: 'GET /api/v1/nodes: 403 forbidden' });
    const r = runChecks(s, FALLBACK);
    expect(r.findings.map((f) => f.code)).toEqual(['WSD901']);
    expect(r.exitCode).toBe(0);
    expect(exitCodeFor([{ ...r.findings[0]!, severity: 'warning' }])).toBe(1);
  });

  it('renders a table, a wide table with fixes, JSON and YAML of the same report', () => {
    const s = cleanSnapshot();
    s.policies = [];
    const r = runChecks(s, FALLBACK);
    const t = render(r, 'table');
    expect(t).toMatch(/^SEVERITY\s+CODE\s+NAMESPACE\s+OBJECT\s+MESSAGE$/m);
    expect(t).toMatch(/^error\s+WSD108\s+ValidatingAdmissionPolicy\/ws-drain-require-injection/m);
    expect(render(r, 'wide')).toContain('apply manifests/base/validating-admission-policy.yaml');
    expect(JSON.parse(render(r, 'json'))).toEqual(JSON.parse(JSON.stringify(r)));
    expect(render(r, 'yaml')).toContain('code: WSD108');
  });

  it('every finding code has an entry in docs/check.md', () => {
    const doc = readFileSync(new URL('../../docs/check.md', import.meta.url), 'utf8');
    for (const code of Object.keys(CODES)) expect(doc, code).toMatch(new RegExp(`\\|\\s*${code}\\s*\\|`));
  });
});
