// `ws-drain check` as a user runs it (the CLI in a subprocess, a kubeconfig
// file) against the real kube-apiserver: first a clean install that must
// produce no finding, then a cluster broken on purpose where every finding
// must land on the object that causes it. Every run is repeated as a
// ServiceAccount that can only get/list/watch, and must give the same report.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDevCerts } from '../../src/certs/dev-certs.js';
import { DEFAULT_CONFIG } from '../../src/core/config.js';
import { decide } from '../../src/core/decide.js';
import type { CheckReport } from '../../src/check/report.js';
import { PodSandbox } from '../lifecycle/harness/pod-sandbox.js';
import { REPO_ROOT } from './controlplane/binaries.js';
import { freePort, startControlPlane, type ControlPlane } from './controlplane/controlplane.js';
import { createNamespace, createPod, eventually, getPod, optedInPod, waitForInjectionActive } from './controlplane/pods.js';
import { applyObjects, deleteObjects, loadMutatingWebhook, loadValidatingPolicy } from './controlplane/registration.js';
import { runProcess, type Run } from './controlplane/run.js';
import { startRegisteredWebhook, type WsDrainWebhook } from './controlplane/webhook.js';

const MAIN = join(REPO_ROOT, 'src/cli/main.ts');

/** The CLI as a user runs it, without WS_DRAIN_* or KUBECONFIG from this environment. */
function wsDrain(args: string[]): Promise<Run> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WS_DRAIN_') && k !== 'KUBECONFIG'));
  return runProcess(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: REPO_ROOT, env });
}

let cp: ControlPlane;
let webhook: WsDrainWebhook;
let adminKubeconfig = '';
let readOnlyKubeconfig = '';
let readOnlyToken = '';
let tlsServer: Server | undefined;

async function post(path: string, body: object): Promise<void> {
  const r = await cp.request('POST', path, body);
  if (r.status !== 201 && r.status !== 200) throw new Error(`POST ${path}: ${r.status} ${r.body}`);
}

/** client-node's object API drops the fields of kinds it has no model for: routes go in as raw JSON. */
async function postRoute(route: { metadata: { namespace: string } }): Promise<void> {
  await post(`/apis/gateway.networking.k8s.io/v1/namespaces/${route.metadata.namespace}/httproutes`, route);
}

/** check as the admin and as the read-only ServiceAccount: both reports must agree. */
async function check(args: string[]): Promise<{ run: Run; report: CheckReport }> {
  const admin = await wsDrain(['check', '--kubeconfig', adminKubeconfig, '-o', 'json', ...args]);
  const reader = await wsDrain(['check', '--kubeconfig', readOnlyKubeconfig, '-o', 'json', ...args]);
  expect(admin.stderr).toBe('');
  expect(reader.stderr).toBe('');
  const report = JSON.parse(admin.stdout) as CheckReport;
  const readerReport = JSON.parse(reader.stdout) as CheckReport;
  expect(readerReport).toEqual(report);
  expect(reader.code).toBe(admin.code);
  return { run: admin, report };
}

function kubeconfigWithToken(yaml: string, token: string): string {
  return yaml.replace(/token: \S+/, `token: ${token}`);
}

const HTTPROUTE_CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  // *.k8s.io groups need this annotation; the Gateway API's own CRDs carry it too.
  metadata: { name: 'httproutes.gateway.networking.k8s.io', annotations: { 'api-approved.kubernetes.io': 'https://github.com/kubernetes-sigs/gateway-api/pull/1538' } },
  spec: {
    group: 'gateway.networking.k8s.io',
    names: { kind: 'HTTPRoute', listKind: 'HTTPRouteList', plural: 'httproutes', singular: 'httproute' },
    scope: 'Namespaced',
    // The Gateway API's own schema is not needed to store and read routes.
    versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
  },
};

function deployment(namespace: string, name: string, annotations: Record<string, string>, extra: object = {}): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: {
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name }, annotations },
        spec: { containers: [{ name: 'app', image: 'registry.example/ws-app:1.0', ports: [{ name: 'ws', containerPort: 8080 }] }] },
      },
      ...extra,
    },
  };
}

const service = (namespace: string, name: string) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec: { selector: { app: name }, ports: [{ port: 80, targetPort: 8080 }] } });

function ingress(namespace: string, name: string, annotations: Record<string, string>): object {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace, annotations },
    spec: { ingressClassName: 'nginx', rules: [{ http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name, port: { number: 80 } } } }] } }] },
  };
}

const httpRoute = (namespace: string, name: string, request: string) => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: { name, namespace },
  spec: { parentRefs: [{ name: 'gw' }], rules: [{ backendRefs: [{ name, port: 80 }], timeouts: { request } }] },
});

const nginxConfigMap = (workerShutdownTimeout: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'ingress-nginx-controller', namespace: 'ingress-nginx' },
  data: { 'worker-shutdown-timeout': workerShutdownTimeout },
});

beforeAll(async () => {
  cp = await startControlPlane();
  webhook = await startRegisteredWebhook(cp);
  await applyObjects(cp, await loadValidatingPolicy());
  for (const ns of ['clean', 'ingress-nginx']) await createNamespace(cp, ns);
  await waitForInjectionActive(cp, 'clean');

  adminKubeconfig = join(cp.workDir, 'admin.kubeconfig');
  await writeFile(adminKubeconfig, cp.kubeconfigYaml(), { mode: 0o600 });
  // The read-only identity: a ServiceAccount bound to get/list/watch on everything (docs/check.md).
  await post('/api/v1/namespaces/default/serviceaccounts', { metadata: { name: 'ws-drain-check' } });
  await post('/apis/rbac.authorization.k8s.io/v1/clusterroles', {
    metadata: { name: 'ws-drain-check' },
    rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['get', 'list', 'watch'] }],
  });
  await post('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    metadata: { name: 'ws-drain-check' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'ws-drain-check' },
    subjects: [{ kind: 'ServiceAccount', name: 'ws-drain-check', namespace: 'default' }],
  });
  const tr = await cp.request('POST', '/api/v1/namespaces/default/serviceaccounts/ws-drain-check/token', {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { expirationSeconds: 3600 },
  });
  readOnlyToken = (JSON.parse(tr.body) as { status: { token: string } }).status.token;
  readOnlyKubeconfig = join(cp.workDir, 'read-only.kubeconfig');
  await writeFile(readOnlyKubeconfig, kubeconfigWithToken(cp.kubeconfigYaml(), readOnlyToken), { mode: 0o600 });

  // Raw JSON: client-node's model would drop x-kubernetes-preserve-unknown-fields.
  await post('/apis/apiextensions.k8s.io/v1/customresourcedefinitions', HTTPROUTE_CRD);
  await eventually('HTTPRoute API served', async () => ((await cp.request('GET', '/apis/gateway.networking.k8s.io/v1/httproutes')).status === 200 ? true : undefined), 60_000);
});

afterAll(async () => {
  await webhook?.stop();
  await new Promise<void>((r) => (tlsServer ? tlsServer.close(() => r()) : r()));
  await cp?.stop();
});

describe('ws-drain check', () => {
  it('the read-only identity cannot write', async () => {
    const r = await new Promise<number>((resolve, reject) => {
      import('node:https').then(({ request }) => {
        const req = request(new URL('/api/v1/namespaces/default/configmaps', cp.url), { method: 'POST', ca: cp.caPem, headers: { authorization: `Bearer ${readOnlyToken}`, 'content-type': 'application/json' } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.once('error', reject);
        req.end(JSON.stringify({ metadata: { name: 'x' } }));
      }, reject);
    });
    expect(r).toBe(403);
  });

  it('a clean install and namespace: no findings, exit 0, and the plans the webhook writes', async () => {
    await applyObjects(cp, [
      { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'nginx' }, spec: { controller: 'k8s.io/ingress-nginx' } } as never,
      {
        ...deployment('ingress-nginx', 'ingress-nginx-controller', {}),
        spec: {
          selector: { matchLabels: { app: 'ingress-nginx' } },
          template: {
            metadata: { labels: { app: 'ingress-nginx' } },
            spec: { containers: [{ name: 'controller', image: 'registry.k8s.io/ingress-nginx/controller:v1.13.0', args: ['/nginx-ingress-controller', '--configmap=ingress-nginx/ingress-nginx-controller', '--ingress-class=nginx'] }] },
          },
        },
      } as never,
      nginxConfigMap('10m') as never,
      deployment('clean', 'chat', { 'ws-drain/session-p95': '5m' }) as never,
      service('clean', 'chat') as never,
      ingress('clean', 'chat', { 'nginx.ingress.kubernetes.io/proxy-read-timeout': '3600', 'nginx.ingress.kubernetes.io/proxy-send-timeout': '3600' }) as never,
    ]);
    await postRoute(httpRoute('clean', 'chat', '0s'));
    const created = await createPod(cp, 'clean', optedInPod('solo', { 'ws-drain/session-p95': '90s' }));
    expect(created.pod?.metadata.annotations?.['ws-drain/injected']).toBe(DEFAULT_CONFIG.helperVersion);

    const { run, report } = await check(['-n', 'clean']);
    expect(report.findings).toEqual([]);
    expect(run.code).toBe(0);
    expect(report.webhooks).toEqual([expect.objectContaining({ configName: 'ws-drain', method: 'direct', verified: true, serverName: '127.0.0.1' })]);
    // The Deployment's plan is the core's; the bare pod's is what the webhook wrote into it.
    const template = (deployment('clean', 'chat', { 'ws-drain/session-p95': '5m' }) as { spec: { template: { metadata: object; spec: object } } }).spec.template;
    const d = decide({ apiVersion: 'v1', kind: 'Pod', ...template }, 'clean', DEFAULT_CONFIG);
    const byName = Object.fromEntries(report.workloads.map((w) => [`${w.object.kind}/${w.object.name}`, w]));
    expect(Object.keys(byName).sort()).toEqual(['Deployment/chat', 'Pod/solo']);
    expect(byName['Deployment/chat']!.plan).toEqual(d.kind === 'mutate' ? d.plan : 'not mutated');
    expect(byName['Deployment/chat']!.services).toEqual([{ kind: 'Service', namespace: 'clean', name: 'chat' }]);
    expect(byName['Deployment/chat']!.ingresses).toEqual([{ kind: 'Ingress', namespace: 'clean', name: 'chat' }]);
    expect(byName['Deployment/chat']!.httpRoutes).toEqual([{ kind: 'HTTPRoute', namespace: 'clean', name: 'chat' }]);
    const stored = await getPod(cp, 'clean', 'solo');
    expect(byName['Pod/solo']!.plan).toEqual(JSON.parse(stored!.metadata.annotations!['ws-drain/plan']!));

    const table = await wsDrain(['check', '--kubeconfig', readOnlyKubeconfig, '-n', 'clean']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^NAMESPACE\s+WORKLOAD\s+GRACE\s+PRESTOP-DELAY\s+SESSION-P95\s+CLEANUP\s+ROUTED-BY$/m);
    expect(table.stdout).toMatch(/^clean\s+Deployment\/chat\s+429s\s+20s\s+300s\s+10s\s+Service\/chat,Ingress\/chat,HTTPRoute\/chat$/m);
    expect(table.stdout).toContain('No findings');
  });

  it('a Service-based registration: the endpoint is dialled with the Service DNS name and verified against the caBundle', async () => {
    // The endpoint is a pod stand-in: its own network namespace and pod IP (the lifecycle
    // harness's sandbox), serving TLS with a certificate for hook.ws-drain-svc.svc. No
    // controller-manager runs here, so the EndpointSlice is written by hand.
    const certs = await generateDevCerts({ hosts: ['hook.ws-drain-svc.svc'] });
    const dir = await mkdtemp(join(tmpdir(), 'ws-drain-check-hook-'));
    await writeFile(join(dir, 'tls.crt'), certs.tlsCert);
    await writeFile(join(dir, 'tls.key'), certs.tlsKey, { mode: 0o600 });
    await writeFile(
      join(dir, 'server.mjs'),
      [
        "import { createServer } from 'node:https';",
        "import { readFileSync } from 'node:fs';",
        "createServer({ cert: readFileSync('tls.crt'), key: readFileSync('tls.key') }, (_q, r) => r.end('{}'))",
        "  .listen(8443, '0.0.0.0', () => console.log(JSON.stringify({ event: 'listening' })));",
      ].join('\n'),
    );
    const pod = PodSandbox.create('check-hook');
    try {
      await pod.startApp([process.execPath, 'server.mjs'], { cwd: dir, env: process.env, readyEvent: 'listening' });
      await createNamespace(cp, 'ws-drain-svc');
      await post('/api/v1/namespaces/ws-drain-svc/services', { metadata: { name: 'hook' }, spec: { selector: { app: 'hook' }, ports: [{ name: 'https', port: 443, targetPort: 8443 }] } });
      await post('/apis/discovery.k8s.io/v1/namespaces/ws-drain-svc/endpointslices', {
        metadata: { name: 'hook-1', labels: { 'kubernetes.io/service-name': 'hook' } },
        addressType: 'IPv4',
        ports: [{ name: 'https', port: 8443, protocol: 'TCP' }],
        endpoints: [{ addresses: [pod.podIp], conditions: { ready: true } }],
      });
      const viaService = await loadMutatingWebhook('https://unused/', certs.caCert, 'ws-drain-via-service');
      viaService.webhooks = viaService.webhooks.map((w) => ({ ...w, clientConfig: { service: { name: 'hook', namespace: 'ws-drain-svc', path: '/mutate', port: 443 }, caBundle: Buffer.from(certs.caCert).toString('base64') } }));
      await applyObjects(cp, [viaService]);
      const { report, run } = await check(['-n', 'clean']);
      expect(report.findings).toEqual([]);
      expect(run.code).toBe(0);
      expect(report.webhooks.find((w) => w.configName === 'ws-drain-via-service')).toMatchObject({
        method: 'direct',
        target: `${pod.podIp}:8443`,
        serverName: 'hook.ws-drain-svc.svc',
        verified: true,
      });
      // The same endpoint trusted through another CA: refused, as the API server would.
      const otherCa = (await generateDevCerts({ hosts: ['x'] })).caCert;
      viaService.webhooks = viaService.webhooks.map((w) => ({ ...w, clientConfig: { ...w.clientConfig, caBundle: Buffer.from(otherCa).toString('base64') } }));
      await applyObjects(cp, [viaService]);
      const untrusted = await check(['-n', 'clean']);
      expect(untrusted.report.findings.map((f) => `${f.code} ${f.object.name}`)).toEqual(['WSD105 ws-drain-via-service']);
      await deleteObjects(cp, [viaService]);
    } finally {
      await pod.destroy();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a broken cluster: each finding on the object that causes it, exit 1', async () => {
    // A guard policy without its binding refuses nothing.
    const guard = await loadValidatingPolicy();
    await deleteObjects(cp, guard.filter((o) => o.kind === 'ValidatingAdmissionPolicyBinding'));
    const unbound = await check(['-n', 'clean']);
    expect(unbound.report.findings.map((f) => `${f.code} ${f.severity} ${f.object.name}`)).toEqual(['WSD109 error ws-drain-require-injection']);
    expect(unbound.run.code).toBe(1);
    // Take the install down: pods created now are neither injected nor refused.
    await webhook.stop();
    await deleteObjects(cp, guard);
    const uninstalled = await check(['-n', 'clean']);
    expect(uninstalled.report.findings.map((f) => `${f.code} ${f.object.kind}/${f.object.name}`)).toEqual(['WSD101 MutatingWebhookConfiguration/ws-drain']);

    for (const ns of ['broken', 'ws-drain-system']) await createNamespace(cp, ns);
    await createNamespace(cp, 'disabled', { 'ws-drain.io/inject': 'disabled' });
    await post('/api/v1/nodes', { metadata: { name: 'spot-1', labels: { 'cloud.google.com/gke-spot': 'true' } } });

    const injectedPlan = (() => {
      const d = decide(optedInPod('x', { 'ws-drain/session-p95': '5m' }), 'broken', DEFAULT_CONFIG);
      return d.kind === 'mutate' ? JSON.stringify(d.plan) : '';
    })();
    const preInjected = (name: string, version: string, extra: { labels?: Record<string, string>; nodeName?: string; owned?: boolean } = {}) => {
      const base = optedInPod(name, { 'ws-drain/session-p95': '5m', 'ws-drain/injected': version, 'ws-drain/plan': injectedPlan }) as { metadata: object; spec: object };
      return {
        ...base,
        metadata: {
          ...base.metadata,
          ...(extra.labels ? { labels: extra.labels } : {}),
          // As a ReplicaSet of the Deployment would create it (no controller-manager runs here).
          ...(extra.owned ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'chat-5d4f', uid: '6f1c2a34-0000-4000-8000-000000000001', controller: true }] } : {}),
        },
        spec: { ...base.spec, initContainers: [{ name: 'ws-drain-install', image: 'ghcr.io/ws-drain/ws-drain-helper:' + version }], ...(extra.nodeName ? { nodeName: extra.nodeName } : {}) },
      };
    };
    for (const pod of [optedInPod('slipped', { 'ws-drain/session-p95': '5m' }), preInjected('old-helper', '0.0.9'), preInjected('chat-on-spot', '0.1.0', { labels: { app: 'chat' }, nodeName: 'spot-1', owned: true })]) {
      const r = await createPod(cp, 'broken', pod);
      expect(r.response.status, r.message).toBe(201);
    }

    await applyObjects(cp, [
      deployment('broken', 'chat', { 'ws-drain/session-p95': '5m' }) as never,
      deployment('broken', 'bad', { 'ws-drain/session-p95': 'forever' }) as never,
      deployment('broken', 'surge0', { 'ws-drain/session-p95': '5m' }, { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } } }) as never,
      deployment('broken', 'recreate', { 'ws-drain/session-p95': '5m' }, { strategy: { type: 'Recreate' } }) as never,
      deployment('broken', 'long', { 'ws-drain/session-p95': '15m' }) as never,
      { ...deployment('broken', 'rooms', { 'ws-drain/session-p95': '5m' }), kind: 'StatefulSet', spec: { ...(deployment('broken', 'rooms', { 'ws-drain/session-p95': '5m' }) as { spec: object }).spec, replicas: 3, serviceName: 'rooms' } } as never,
      deployment('disabled', 'chat', { 'ws-drain/session-p95': '5m' }) as never,
      { ...deployment('kube-system', 'cluster-autoscaler', {}), metadata: { name: 'cluster-autoscaler', namespace: 'kube-system', labels: { 'app.kubernetes.io/name': 'cluster-autoscaler' } } } as never,
      service('broken', 'chat') as never,
      ingress('broken', 'chat', { 'nginx.ingress.kubernetes.io/proxy-read-timeout': '60', 'nginx.ingress.kubernetes.io/proxy-send-timeout': '600s' }) as never,
      // The same Service behind an AWS ALB and a GKE load balancer, both on their defaults (60 s idle, 30 s backend).
      { ...ingress('broken', 'chat', {}), metadata: { name: 'chat-alb', namespace: 'broken' }, spec: { ...(ingress('broken', 'chat', {}) as { spec: object }).spec, ingressClassName: 'alb' } } as never,
      { ...ingress('broken', 'chat', {}), metadata: { name: 'chat-gce', namespace: 'broken', annotations: { 'kubernetes.io/ingress.class': 'gce' } }, spec: { ...(ingress('broken', 'chat', {}) as { spec: object }).spec, ingressClassName: undefined } } as never,
      // The install as manifests/base has it, with a webhook Deployment whose helper image is older than itself.
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'ws-drain-webhook', namespace: 'ws-drain-system' }, spec: { selector: { 'app.kubernetes.io/name': 'ws-drain-webhook' }, ports: [{ name: 'https', port: 443, targetPort: 8443 }] } } as never,
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'ws-drain-webhook', namespace: 'ws-drain-system' },
        spec: {
          selector: { matchLabels: { 'app.kubernetes.io/name': 'ws-drain-webhook' } },
          template: {
            metadata: { labels: { 'app.kubernetes.io/name': 'ws-drain-webhook' } },
            spec: { containers: [{ name: 'webhook', image: 'ghcr.io/ws-drain/ws-drain-webhook:0.1.0', args: ['serve'], env: [{ name: 'WS_DRAIN_HELPER_IMAGE', value: 'ghcr.io/ws-drain/ws-drain-helper:0.0.9' }] }] },
          },
        },
      } as never,
    ]);

    await postRoute(httpRoute('broken', 'chat', '1m'));
    // The shared controller ConfigMap now ends old nginx workers after 120 s.
    const cmPath = '/api/v1/namespaces/ingress-nginx/configmaps/ingress-nginx-controller';
    const cm = JSON.parse((await cp.request('GET', cmPath)).body) as { metadata: { resourceVersion: string } };
    const put = await cp.request('PUT', cmPath, { ...nginxConfigMap('120s'), metadata: { ...nginxConfigMap('120s').metadata, resourceVersion: cm.metadata.resourceVersion } });
    expect(put.status, put.body).toBe(200);

    // A TLS server with a 10-day certificate, registered once with its own CA and once with another.
    const served = await generateDevCerts({ hosts: ['127.0.0.1'], days: 10 });
    const otherCa = (await generateDevCerts({ hosts: ['127.0.0.1'] })).caCert;
    tlsServer = createServer({ cert: served.tlsCert, key: served.tlsKey }, (_req, res) => res.end('{}'));
    await new Promise<void>((r) => tlsServer!.listen(0, '127.0.0.1', r));
    const url = `https://127.0.0.1:${(tlsServer.address() as AddressInfo).port}/mutate`;
    const other64 = Buffer.from(otherCa).toString('base64');
    const main = await loadMutatingWebhook(url, otherCa);
    main.webhooks = main.webhooks.map((w) => ({ ...w, clientConfig: { service: { name: 'ws-drain-webhook', namespace: 'ws-drain-system', path: '/mutate', port: 443 }, caBundle: other64 } }));
    const wrongCa = await loadMutatingWebhook(url, otherCa, 'ws-drain-canary-ca');
    const expiring = await loadMutatingWebhook(url, served.caCert, 'ws-drain-canary-expiring');
    const down = await loadMutatingWebhook(`https://127.0.0.1:${await freePort()}/mutate`, otherCa, 'ws-drain-canary-down');
    down.webhooks = down.webhooks.map((w) => ({ ...w, failurePolicy: 'Fail' }));
    const noService = await loadMutatingWebhook(url, otherCa, 'ws-drain-canary-nosvc');
    noService.webhooks = noService.webhooks.map((w) => ({ ...w, clientConfig: { service: { name: 'nope', namespace: 'ws-drain-system', port: 443 }, caBundle: other64 } }));
    await applyObjects(cp, [main, wrongCa, expiring, down, noService]);

    const { run, report } = await check(['-A']);
    expect(run.code).toBe(1);
    const got = report.findings.map((f) => `${f.code} ${f.object.kind} ${f.object.namespace ?? '-'}/${f.object.name}`);
    const expected = [
      'WSD102 Service ws-drain-system/nope',
      'WSD103 Service ws-drain-system/ws-drain-webhook',
      'WSD104 MutatingWebhookConfiguration -/ws-drain-canary-down',
      'WSD105 MutatingWebhookConfiguration -/ws-drain-canary-ca',
      'WSD106 MutatingWebhookConfiguration -/ws-drain-canary-ca',
      'WSD106 MutatingWebhookConfiguration -/ws-drain-canary-expiring',
      'WSD108 ValidatingAdmissionPolicy -/ws-drain-require-injection',
      'WSD110 MutatingWebhookConfiguration -/ws-drain-canary-down',
      'WSD111 Deployment ws-drain-system/ws-drain-webhook',
      'WSD201 Deployment broken/bad',
      'WSD202 Pod broken/slipped',
      'WSD203 Pod broken/old-helper',
      'WSD204 Deployment broken/chat',
      'WSD204 Deployment broken/long',
      'WSD205 Deployment disabled/chat',
      'WSD301 Ingress broken/chat',
      'WSD302 Ingress broken/chat',
      // The controller ConfigMap is shared: the clean namespace's Ingress is now too short as well.
      'WSD302 Ingress clean/chat',
      'WSD301 Ingress broken/chat-alb',
      'WSD303 HTTPRoute broken/chat',
      'WSD305 Ingress broken/chat-gce',
      'WSD304 Ingress broken/chat',
      'WSD401 Deployment broken/surge0',
      'WSD402 Deployment broken/recreate',
      'WSD403 StatefulSet broken/rooms',
    ];
    for (const e of expected) expect(got, e).toContain(e);
    // Nothing else: every finding is one of the expected kinds (some objects get more than one).
    expect([...new Set(got)].sort()).toEqual(expected.sort());

    const text = (code: string, name: string) => report.findings.find((f) => f.code === code && f.object.name === name)!.message;
    expect(text('WSD204', 'chat')).toContain('15 s the platform gives: GKE Spot node spot-1');
    expect(text('WSD204', 'long')).toContain('cluster-autoscaler scale-down (kube-system/cluster-autoscaler, default: 600 s)');
    expect(text('WSD302', 'chat')).toContain('120 s (ConfigMap ingress-nginx/ingress-nginx-controller)');
    expect(text('WSD105', 'ws-drain-canary-ca')).toMatch(/does not verify the certificate served at 127\.0\.0\.1:\d+ for 127\.0\.0\.1/);
    expect(text('WSD203', 'old-helper')).toContain('injected by ws-drain 0.0.9; the webhook now injects 0.1.0');
    expect(report.configSource).toBe('Deployment ws-drain-system/ws-drain-webhook');

    const wide = await wsDrain(['check', '--kubeconfig', readOnlyKubeconfig, '-A', '-o', 'wide']);
    expect(wide.code).toBe(1);
    expect(wide.stdout).toMatch(/^SEVERITY\s+CODE\s+NAMESPACE\s+OBJECT\s+MESSAGE\s+FIX$/m);
    expect(wide.stdout).toMatch(/^error\s+WSD202\s+broken\s+Pod\/slipped\s+opted in but not injected/m);
  });

  it('usage errors exit 2, an unreachable API server exits 1', async () => {
    expect((await wsDrain(['check', '-n', 'a', '-A'])).code).toBe(2);
    expect((await wsDrain(['check', '-o', 'xml', '--kubeconfig', adminKubeconfig])).code).toBe(2);
    expect((await wsDrain(['check', '--kubeconfig', adminKubeconfig, '--context', 'nope'])).code).toBe(2);
    const named = await wsDrain(['check', '--kubeconfig', adminKubeconfig, '--context', 'ws-drain-e2e', '-n', 'broken', '-o', 'yaml']);
    expect(named.code).toBe(1);
    expect(named.stdout).toMatch(/^kind: CheckReport$/m);
    expect(named.stdout).toContain('code: WSD202');
    const gone = join(cp.workDir, 'gone.kubeconfig');
    await writeFile(gone, cp.kubeconfigYaml().replace(cp.url, `https://127.0.0.1:${await freePort()}`));
    const r = await wsDrain(['check', '--kubeconfig', gone]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cannot reach the API server');
  });
});
