// The admission path against a real kube-apiserver + etcd: the webhook runs in
// this process, registered through manifests/base/mutating-webhook.yaml.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { generateDevCerts } from '../../src/certs/dev-certs.js';
import { HELPER_BINARY, INIT_CONTAINER_NAME, INJECTED_ANNOTATION, MOUNT_PATH, PLAN_ANNOTATION, VOLUME_NAME } from '../../src/core/types.js';
import { createNamespace, createPod, getPod, optedInPod, type StoredPod } from './controlplane/pods.js';
import { parsePrometheusText, sumSamples } from './controlplane/prometheus.js';
import { applyObjects, deleteObjects } from './controlplane/registration.js';
import { useWebhookCluster } from './controlplane/suite.js';

const NS = 'e2e-admission';
// Defaults D=20s, C=10s, M=30% with S=2m: the plan the DESIGN formula gives.
const GRACE_FOR_2M = Math.ceil((20 + 120 + 10) * 1.3);

const cluster = useWebhookCluster(NS);

function expectInjectedOnce(pod: StoredPod, containerName = 'app'): void {
  expect(pod.metadata.annotations?.[INJECTED_ANNOTATION]).toBeTruthy();
  expect(pod.spec.initContainers?.filter((c) => c.name === INIT_CONTAINER_NAME)).toHaveLength(1);
  expect(pod.spec.volumes?.filter((v) => v.name === VOLUME_NAME)).toHaveLength(1);
  const container = pod.spec.containers.find((c) => c.name === containerName);
  const command = container?.lifecycle?.preStop?.exec?.command ?? [];
  expect(command[0]).toBe(HELPER_BINARY);
  expect(command[1]).toBe('prestop');
  // Not double-wrapped: the helper appears exactly once in the hook.
  expect(command.filter((arg) => arg.includes('ws-drain-helper'))).toHaveLength(1);
  expect(container?.volumeMounts?.filter((m) => m.name === VOLUME_NAME && m.mountPath === MOUNT_PATH)).toHaveLength(1);
}

function hasNoWsDrainArtefacts(pod: StoredPod): void {
  expect(pod.metadata.annotations?.[INJECTED_ANNOTATION]).toBeUndefined();
  expect(pod.metadata.annotations?.[PLAN_ANNOTATION]).toBeUndefined();
  expect(pod.spec.initContainers?.some((c) => c.name === INIT_CONTAINER_NAME) ?? false).toBe(false);
  expect(pod.spec.volumes?.some((v) => v.name === VOLUME_NAME) ?? false).toBe(false);
  for (const c of pod.spec.containers) expect(c.lifecycle?.preStop).toBeUndefined();
}

describe('injection through the real API server', () => {
  it('stores an opted-in pod with init container, preStop, volume, grace and plan', async () => {
    const created = await createPod(cluster.cp, NS, {
      ...optedInPod('opted-in', { 'ws-drain/session-p95': '2m' }),
    });
    expect(created.response.status, created.message).toBe(201);

    const stored = await getPod(cluster.cp, NS, 'opted-in');
    expect(stored).toBeDefined();
    if (!stored) return;
    expectInjectedOnce(stored);
    expect(stored.spec.terminationGracePeriodSeconds).toBe(GRACE_FOR_2M);
    const plan = JSON.parse(stored.metadata.annotations?.[PLAN_ANNOTATION] ?? '{}') as Record<string, unknown>;
    expect(plan).toMatchObject({ sessionP95Seconds: 120, requiredGraceSeconds: GRACE_FOR_2M, graceSeconds: GRACE_FOR_2M });
    const command = stored.spec.containers[0]?.lifecycle?.preStop?.exec?.command ?? [];
    expect(command).toContain('--ports=8080');
  });

  it('injects a pod created with generateName only, as ReplicaSets create them', async () => {
    const pod = optedInPod('unused') as { metadata: Record<string, unknown> };
    const created = await createPod(cluster.cp, NS, { ...pod, metadata: { generateName: 'rs-like-', annotations: pod.metadata.annotations } });
    expect(created.response.status, created.message).toBe(201);
    if (!created.pod) return;
    expect(created.pod.metadata.name).toMatch(/^rs-like-/);
    expectInjectedOnce(created.pod);
  });

  it('stores a pod that did not opt in exactly as it stores it without the webhook', async () => {
    // Control: a namespace the webhook's namespaceSelector excludes, so the API
    // server never calls it there; the stored spec is what Kubernetes alone makes.
    await createNamespace(cluster.cp, 'e2e-control', { 'ws-drain.io/inject': 'disabled' });
    // One pod without annotations (not even sent: matchConditions), one with a
    // ws-drain/ annotation that opts out (sent, and must come back unchanged).
    const variants: Array<[string, Record<string, string> | undefined]> = [
      ['plain', undefined],
      ['opted-out', { 'ws-drain/enabled': 'false', 'ws-drain/session-p95': '2m' }],
    ];
    for (const [name, annotations] of variants) {
      const pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, ...(annotations ? { annotations } : {}) },
        spec: {
          containers: [{ name: 'app', image: 'registry.example/web:2', ports: [{ containerPort: 8080 }] }],
          terminationGracePeriodSeconds: 45,
        },
      };
      const withWebhook = await createPod(cluster.cp, NS, pod);
      const control = await createPod(cluster.cp, 'e2e-control', pod);
      expect(withWebhook.response.status, withWebhook.message).toBe(201);
      expect(control.response.status, control.message).toBe(201);
      if (!withWebhook.pod || !control.pod) return;
      hasNoWsDrainArtefacts(withWebhook.pod);
      expect(withWebhook.pod.spec).toEqual(control.pod.spec);
      expect(withWebhook.pod.metadata.annotations).toEqual(control.pod.metadata.annotations);
    }
  });

  it('leaves opted-in pods in excluded namespaces untouched', async () => {
    await createNamespace(cluster.cp, 'ws-drain-system');
    for (const ns of ['ws-drain-system', 'kube-system']) {
      const created = await createPod(cluster.cp, ns, optedInPod('excluded'));
      expect(created.response.status, created.message).toBe(201);
      if (!created.pod) return;
      hasNoWsDrainArtefacts(created.pod);
      expect(created.pod.spec.terminationGracePeriodSeconds).toBe(30);
    }
  });
});

describe('denials and warnings reach the client', () => {
  it('denies a bad annotation with a message naming it, the value and the accepted form', async () => {
    const created = await createPod(cluster.cp, NS, optedInPod('bad-duration', { 'ws-drain/session-p95': '5 minutes' }));
    expect(created.response.status).toBeGreaterThanOrEqual(400);
    expect(created.message).toContain('inject.ws-drain.io');
    expect(created.message).toContain('ws-drain/session-p95');
    expect(created.message).toContain('5 minutes');
    expect(created.message).toMatch(/duration/i);
    expect(await getPod(cluster.cp, NS, 'bad-duration')).toBeUndefined();
  });

  it('denies an unknown ws-drain/ key by name', async () => {
    const created = await createPod(cluster.cp, NS, optedInPod('bad-key', { 'ws-drain/session-p95': '2m', 'ws-drain/sesion-p95': '2m' }));
    expect(created.response.status).toBeGreaterThanOrEqual(400);
    expect(created.message).toContain('ws-drain/sesion-p95');
    expect(await getPod(cluster.cp, NS, 'bad-key')).toBeUndefined();
  });

  it.each([
    ['typo-underscore', 'ws-drain/session_p95'],
    ['typo-letter', 'ws-drain/sesion-p95'],
  ])('denies a typo of the opt-in key on its own (%s) with "did you mean"', async (name, key) => {
    const created = await createPod(cluster.cp, NS, optedInPod(name, { [key]: '2m' }));
    expect(created.response.status, created.message).toBe(422);
    expect(created.message).toContain('inject.ws-drain.io');
    expect(created.message).toContain(`unknown annotation "${key}": did you mean ws-drain/session-p95?`);
    expect(await getPod(cluster.cp, NS, name)).toBeUndefined();
  });

  it('enforce: reject denies a short grace period with the number needed', async () => {
    const created = await createPod(cluster.cp, NS, optedInPod('reject-short', { 'ws-drain/session-p95': '2m', 'ws-drain/enforce': 'reject' }));
    expect(created.response.status).toBeGreaterThanOrEqual(400);
    expect(created.message).toContain('terminationGracePeriodSeconds');
    expect(created.message).toContain(String(GRACE_FOR_2M));
    expect(await getPod(cluster.cp, NS, 'reject-short')).toBeUndefined();
  });

  it('enforce: raise sets the grace period and the warning reaches the client', async () => {
    const created = await createPod(cluster.cp, NS, optedInPod('raise-short', { 'ws-drain/session-p95': '2m', 'ws-drain/enforce': 'raise' }));
    expect(created.response.status, created.message).toBe(201);
    expect(created.pod?.spec.terminationGracePeriodSeconds).toBe(GRACE_FOR_2M);
    const warning = created.response.warnings.find((w) => w.includes('terminationGracePeriodSeconds'));
    expect(warning, `warnings: ${JSON.stringify(created.response.warnings)}`).toBeDefined();
    expect(warning).toContain('30');
    expect(warning).toContain(String(GRACE_FOR_2M));
  });

  it('a grace period longer than the spot node kind allows reaches the client as a warning naming the limit', async () => {
    const spot = optedInPod('on-gke-spot', { 'ws-drain/session-p95': '2m' }) as { spec: Record<string, unknown> };
    spot.spec['nodeSelector'] = { 'cloud.google.com/gke-spot': 'true' };
    const created = await createPod(cluster.cp, NS, spot);
    expect(created.response.status, created.message).toBe(201);
    expect(created.response.warnings).toContain(`ws-drain: grace ${GRACE_FOR_2M}s > 15s allowed on GKE Spot (nodeSelector cloud.google.com/gke-spot)`);
  });

  it('enforce: warn keeps the short grace period and warns', async () => {
    const created = await createPod(cluster.cp, NS, optedInPod('warn-short', { 'ws-drain/session-p95': '2m', 'ws-drain/enforce': 'warn' }));
    expect(created.response.status, created.message).toBe(201);
    expect(created.pod?.spec.terminationGracePeriodSeconds).toBe(30);
    expect(created.response.warnings.some((w) => w.includes(String(GRACE_FOR_2M)))).toBe(true);
  });
});

describe('container roles, session ports and hooks through the API server (issue 9)', () => {
  const preStopOf = (pod: StoredPod | undefined, name: string): string[] =>
    (pod?.spec.containers.find((c) => c.name === name) as { lifecycle?: { preStop?: { exec?: { command?: string[] } } } } | undefined)?.lifecycle?.preStop?.exec?.command ?? [];

  it('a metrics port is left out with a warning; istio-proxy waits as a proxy and gets no signal', async () => {
    const created = await createPod(cluster.cp, NS, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'roles-istio', annotations: { 'ws-drain/session-p95': '2m', 'ws-drain/drain-signal': 'SIGTERM', 'prometheus.io/port': '9464' } },
      spec: {
        containers: [
          { name: 'app', image: 'registry.example/ws-app:1.0', ports: [{ name: 'ws', containerPort: 8080 }, { name: 'web', containerPort: 9464 }] },
          { name: 'istio-proxy', image: 'docker.io/istio/proxyv2:1.24.2', ports: [{ name: 'http-envoy-prom', containerPort: 15090 }] },
        ],
      },
    });
    expect(created.response.status, created.message).toBe(201);
    expect(created.response.warnings).toContain('ws-drain: not watched as sessions: 9464 (prometheus.io/port); ws-drain/ports overrides');
    expect(preStopOf(created.pod, 'app')).toEqual(expect.arrayContaining(['--ports=8080', '--signal=SIGTERM']));
    const proxy = preStopOf(created.pod, 'istio-proxy');
    expect(proxy).toEqual(expect.arrayContaining(['--ports=8080', '--role=proxy']));
    expect(proxy.some((a) => a.startsWith('--signal'))).toBe(false);
    const plan = JSON.parse(created.pod?.metadata.annotations?.[PLAN_ANNOTATION] ?? '{}') as { containers?: Array<{ name: string; role: string }> };
    expect(plan.containers?.map((c) => [c.name, c.role])).toEqual([['app', 'app'], ['istio-proxy', 'proxy']]);
  });

  it('a NATS lame-duck preStop becomes the drain trigger, and a Node SIGUSR1 is warned', async () => {
    const created = await createPod(cluster.cp, NS, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'roles-hooks', annotations: { 'ws-drain/session-p95': '2m' } },
      spec: {
        containers: [
          { name: 'nats', image: 'nats:2.10-alpine', ports: [{ name: 'client', containerPort: 4222 }], lifecycle: { preStop: { exec: { command: ['nats-server', '-sl=ldm=/var/run/nats/nats.pid'] } } } },
        ],
      },
    });
    expect(created.response.status, created.message).toBe(201);
    expect(preStopOf(created.pod, 'nats')).toEqual(expect.arrayContaining(['--hook-at=drain', '--', 'nats-server', '-sl=ldm=/var/run/nats/nats.pid']));
    expect(created.response.warnings.some((w) => w.includes('preStop is NATS lame-duck mode'))).toBe(true);

    const node = await createPod(cluster.cp, NS, optedInPod('roles-node-usr1', { 'ws-drain/session-p95': '2m', 'ws-drain/drain-signal': 'SIGUSR1' }), { dryRun: true });
    expect(node.response.warnings.some((w) => w.includes('inspector'))).toBe(false); // the image says nothing about Node
    const nodePod = optedInPod('roles-node-usr1', { 'ws-drain/session-p95': '2m', 'ws-drain/drain-signal': 'SIGUSR1' }) as { spec: { containers: Array<Record<string, unknown>> } };
    nodePod.spec.containers[0] = { ...nodePod.spec.containers[0], image: 'node:22-alpine', command: ['node', 'server.js'] };
    const warned = await createPod(cluster.cp, NS, nodePod, { dryRun: true });
    expect(warned.response.warnings).toContain("ws-drain: app: SIGUSR1 starts Node's inspector (127.0.0.1:9229) unless the app handles it; prefer drain-http");
  });
});

describe('dry run', () => {
  it('dryRun=All returns the mutated pod and stores nothing', async () => {
    const created = await createPod(cluster.cp, NS, optedInPod('dry-run'), { dryRun: true });
    expect(created.response.status, created.message).toBe(201);
    if (!created.pod) throw new Error('no pod in the dry-run response');
    expectInjectedOnce(created.pod);
    expect(await getPod(cluster.cp, NS, 'dry-run')).toBeUndefined();
  });
});

describe('Pod Security "restricted"', () => {
  it('admits an opted-in restricted pod together with the injected init container', async () => {
    const ns = 'e2e-restricted';
    await createNamespace(cluster.cp, ns, {
      'pod-security.kubernetes.io/enforce': 'restricted',
      'pod-security.kubernetes.io/enforce-version': 'latest',
    });
    const restrictedPod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'restricted-ws', annotations: { 'ws-drain/session-p95': '90s' } },
      spec: {
        securityContext: { runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [
          {
            name: 'app',
            image: 'registry.example/ws-app:1.0',
            ports: [{ containerPort: 8080 }],
            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
          },
        ],
      },
    };
    // The namespace really enforces: the same pod without its securityContext is refused.
    const insecure = await createPod(cluster.cp, ns, {
      ...restrictedPod,
      metadata: { ...restrictedPod.metadata, name: 'insecure' },
      spec: { containers: [{ name: 'app', image: 'registry.example/ws-app:1.0', ports: [{ containerPort: 8080 }] }] },
    });
    expect(insecure.response.status, insecure.message).toBe(403);
    expect(insecure.message).toMatch(/violates PodSecurity "restricted/);

    const created = await createPod(cluster.cp, ns, restrictedPod);
    expect(created.response.status, created.message).toBe(201);
    if (!created.pod) return;
    expectInjectedOnce(created.pod);
  });
});

describe('reinvocation with a second mutating webhook', () => {
  let sidecar: Server | undefined;
  afterAll(async () => {
    await deleteObjects(cluster.cp, [{ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name: 'zz-e2e-env-injector' } }]);
    await new Promise<void>((r) => (sidecar ? sidecar.close(() => r()) : r()));
  });

  it('stores exactly one injection when a later webhook changes the pod', async () => {
    // A tiny webhook that runs after ours (configurations are called in name
    // order) and changes the pod, so the API server reinvokes ws-drain.
    const certs = await generateDevCerts({ hosts: ['127.0.0.1'] });
    sidecar = createServer({ cert: certs.tlsCert, key: certs.tlsKey }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { request: { uid: string; object: { metadata: { labels?: object } } } };
        const patch = [
          ...(review.request.object.metadata.labels ? [] : [{ op: 'add', path: '/metadata/labels', value: {} }]),
          { op: 'add', path: '/metadata/labels/e2e-env-injector', value: 'done' },
          { op: 'add', path: '/spec/containers/0/env', value: [{ name: 'INJECTED_BY_SECOND_WEBHOOK', value: '1' }] },
        ];
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            apiVersion: 'admission.k8s.io/v1',
            kind: 'AdmissionReview',
            response: { uid: review.request.uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') },
          }),
        );
      });
    });
    await new Promise<void>((r) => sidecar?.listen(0, '127.0.0.1', r));
    const port = (sidecar.address() as AddressInfo).port;
    await applyObjects(cluster.cp, [
      {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'MutatingWebhookConfiguration',
        metadata: { name: 'zz-e2e-env-injector' },
        webhooks: [
          {
            name: 'env.e2e.example',
            admissionReviewVersions: ['v1'],
            sideEffects: 'None',
            failurePolicy: 'Fail',
            reinvocationPolicy: 'Never',
            clientConfig: { url: `https://127.0.0.1:${port}/`, caBundle: Buffer.from(certs.caCert).toString('base64') },
            rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'e2e-reinvoke' } },
          },
        ],
      } as object,
    ]);
    const ns = 'e2e-reinvoke';
    await createNamespace(cluster.cp, ns);

    const callsToUs = async (): Promise<number> => {
      const metrics = await cluster.cp.request('GET', '/metrics');
      return sumSamples(parsePrometheusText(metrics.body), 'apiserver_admission_webhook_admission_duration_seconds_count', {
        name: 'inject.ws-drain.io',
        type: 'admit',
      });
    };
    // Wait until the second webhook is active, then measure one create.
    let stored: StoredPod | undefined;
    for (let attempt = 0; attempt < 50 && !stored?.metadata.labels?.['e2e-env-injector']; attempt++) {
      const probe = await createPod(cluster.cp, ns, optedInPod(`reinvoke-probe-${attempt}`), { dryRun: true });
      stored = probe.pod;
      if (!stored?.metadata.labels?.['e2e-env-injector']) await new Promise((r) => setTimeout(r, 200));
    }
    expect(stored?.metadata.labels?.['e2e-env-injector']).toBe('done');

    const before = await callsToUs();
    const created = await createPod(cluster.cp, ns, optedInPod('reinvoked'));
    expect(created.response.status, created.message).toBe(201);
    const after = await callsToUs();
    // Called once, then again after the second webhook changed the pod.
    expect(after - before).toBe(2);

    const pod = await getPod(cluster.cp, ns, 'reinvoked');
    if (!pod) throw new Error('reinvoked pod not stored');
    expectInjectedOnce(pod);
    expect(pod.metadata.labels?.['e2e-env-injector']).toBe('done');
    expect(pod.spec.containers[0]?.env).toEqual([{ name: 'INJECTED_BY_SECOND_WEBHOOK', value: '1' }]);
  });
});
