// Namespace opt-in and defaults on a real kube-apiserver: the webhook's
// namespace informer runs with the token of the ServiceAccount from
// manifests/base (its ClusterRole and binding applied from manifests/base/rbac.yaml),
// so these tests also prove the grant is enough, and no more than that.
//
// The tests run in order and share the cluster: /readyz before the first
// sync comes first (the binding is applied by that test), the API server
// restarts and the guard (which takes the webhook down) come last. Waiting is
// by polling with generous deadlines; the seconds each change took to be
// picked up are printed, never asserted.
//
// The webhook reads through a kubeconfig (src/kube/connect.ts, as `serve
// --kubeconfig` does); a second informer reads as in a pod: the API server's
// address from KUBERNETES_SERVICE_HOST/PORT, the CA and a bound token from a
// directory standing for the service account mount, through a TCP relay the
// test can cut. Last, `serve --workers 2` as a real process tree: one watch
// for the pod (in the primary), its namespaces in every worker.
import { mkdtemp, rename, writeFile } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import type { KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../src/core/config.js';
import { kubeConfigConnection } from '../../src/kube/connection.js';
import { inClusterConnection } from '../../src/kube/in-cluster.js';
import { createMetrics } from '../../src/server/metrics.js';
import { startNamespaceInformer, type NamespaceCache } from '../../src/server/namespaces.js';
import { admissionReview, capturingLogger, getMetrics } from '../server/review-fixtures.js';
import { REPO_ROOT } from './controlplane/binaries.js';
import { startControlPlane, type ControlPlane } from './controlplane/controlplane.js';
import { createNamespace, createPod, eventually, optedInPod, waitForInjectionActive, type PodCreateResult } from './controlplane/pods.js';
import { applyObjects, loadValidatingPolicy, loadValidatingWebhook } from './controlplane/registration.js';
import { runProcess, type Run } from './controlplane/run.js';
import { startTcpRelay, type TcpRelay } from './controlplane/tcp-relay.js';
import { startRegisteredWebhook, type WsDrainWebhook } from './controlplane/webhook.js';
import { childPids, startServe, type ServeProcess } from '../cli/serve-process.js';

const SA = { namespace: 'ws-drain-system', name: 'ws-drain-webhook' };
const SA_USER = `system:serviceaccount:${SA.namespace}:${SA.name}`;
const LABEL = 'ws-drain.io/inject';
/** Deadline for a namespace change to reach admission: generous for a loaded 2-core machine. */
const PICKUP_MS = 60_000;

let cp: ControlPlane;
let webhook: WsDrainWebhook;
let adminKubeconfig = '';
let saKubeconfig = '';
let binding: KubernetesObject;

async function manifest(file: string): Promise<KubernetesObject[]> {
  const text = await readFile(join(REPO_ROOT, 'manifests/base', file), 'utf8');
  return parseAllDocuments(text).map((d) => d.toJS() as KubernetesObject);
}

function kubectl(args: string[], opts: { as?: 'sa'; stdin?: string } = {}): Promise<Run> {
  return runProcess(cp.binaries.kubectl, ['--kubeconfig', opts.as === 'sa' ? saKubeconfig : adminKubeconfig, ...args], { stdin: opts.stdin });
}

async function ok(args: string[]): Promise<Run> {
  const r = await kubectl(args);
  expect(r.code, `kubectl ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r;
}

function readyz(): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    httpsRequest({ host: '127.0.0.1', port: webhook.running.port, path: '/readyz', ca: webhook.caPem, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

function metric(name: string): Promise<number> {
  return new Promise((resolve, reject) => {
    httpGet({ host: '127.0.0.1', port: webhook.running.metricsPort, path: '/metrics' }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        const line = body.split('\n').find((l) => l.startsWith(`${name} `));
        resolve(line === undefined ? 0 : Number(line.split(' ')[1]));
      });
    }).on('error', reject);
  });
}

/** A dry-run create of a pod with one container on 8080 and the given annotations (none: no metadata.annotations). */
function tryPod(namespace: string, annotations?: Record<string, string>, ports = true): Promise<PodCreateResult> {
  const pod = optedInPod('probe', annotations ?? {}) as { metadata: Record<string, unknown>; spec: { containers: Array<Record<string, unknown>> } };
  if (annotations === undefined) delete pod.metadata['annotations'];
  if (!ports) delete pod.spec.containers[0]!['ports'];
  return createPod(cp, namespace, pod, { dryRun: true });
}

function planOf(r: PodCreateResult): Record<string, any> | undefined { // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed plan in assertions
  const text = r.pod?.metadata.annotations?.['ws-drain/plan'];
  return text === undefined ? undefined : (JSON.parse(text) as Record<string, unknown>);
}

/** Polls until `check` holds for a new pod; returns the seconds it took (printed, never asserted). */
async function pickedUp(what: string, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  await eventually(what, async () => ((await check()) ? true : undefined), PICKUP_MS);
  const seconds = (Date.now() - started) / 1000;
  process.stderr.write(`[namespaces] ${what}: picked up by new pods after ${seconds.toFixed(2)} s\n`);
  return seconds;
}

beforeAll(async () => {
  cp = await startControlPlane();
  adminKubeconfig = join(cp.workDir, 'admin.kubeconfig');
  await writeFile(adminKubeconfig, cp.kubeconfigYaml(), { mode: 0o600 });
  // The install's namespace, ServiceAccount and ClusterRole; the binding waits for the first test.
  const rbac = await manifest('rbac.yaml');
  binding = rbac.find((o) => o.kind === 'ClusterRoleBinding')!;
  await applyObjects(cp, [...(await manifest('namespace.yaml')), ...(await manifest('service-account.yaml')), ...rbac.filter((o) => o !== binding)]);
  // A token for the ServiceAccount (TokenRequest, as the kubelet gets one for the webhook pod).
  const tr = await cp.request('POST', `/api/v1/namespaces/${SA.namespace}/serviceaccounts/${SA.name}/token`, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { expirationSeconds: 3600 },
  });
  expect(tr.status, tr.body).toBe(201);
  const token = (JSON.parse(tr.body) as { status: { token: string } }).status.token;
  saKubeconfig = join(cp.workDir, 'sa.kubeconfig');
  await writeFile(saKubeconfig, cp.kubeconfigYaml({ user: SA_USER, token }), { mode: 0o600 });
  webhook = await startRegisteredWebhook(cp, {
    namespaces: { connection: kubeConfigConnection(cp.kubeConfig({ user: SA_USER, token })), initialBackoffMs: 200, maxBackoffMs: 2_000 },
  });
  await applyObjects(cp, await loadValidatingPolicy());
}, 300_000);

afterAll(async () => {
  await webhook?.stop();
  await cp?.stop();
});

describe('namespace informer', () => {
  it('/readyz is 503 until the first namespace list succeeds; a refused list is retried, counted and then synced', async () => {
    // No binding yet: the ServiceAccount may not list namespaces.
    expect(await readyz()).toEqual({ status: 503, body: JSON.stringify({ status: 'namespaces not synced yet' }) });
    await eventually('a refused list counted', async () => ((await metric('ws_drain_namespace_watch_errors_total')) > 0 ? true : undefined));
    expect((await readyz()).status).toBe(503);
    await applyObjects(cp, [binding]);
    await eventually('webhook ready', async () => ((await readyz()).status === 200 ? true : undefined), PICKUP_MS);
    expect(await metric('ws_drain_namespace_informer_synced')).toBe(1);
  });

  it('the webhook\'s ServiceAccount can get/list/watch namespaces and nothing else', async () => {
    for (const verb of ['get', 'list', 'watch']) {
      const r = await kubectl(['auth', 'can-i', verb, 'namespaces'], { as: 'sa' });
      expect(`${verb} namespaces: ${r.stdout.trim()}`).toBe(`${verb} namespaces: yes`);
    }
    const denied = [
      ['create', 'namespaces'],
      ['update', 'namespaces'],
      ['patch', 'namespaces'],
      ['delete', 'namespaces'],
      ['get', 'pods', '-A'],
      ['list', 'secrets', '-A'],
      ['get', 'secrets', '-n', SA.namespace],
      ['get', 'configmaps', '-n', SA.namespace],
      ['list', 'deployments.apps', '-A'],
      ['create', 'pods', '-n', 'default'],
      ['list', 'mutatingwebhookconfigurations.admissionregistration.k8s.io'],
      ['create', 'serviceaccounts/token', '-n', SA.namespace],
    ];
    for (const args of denied) {
      const r = await kubectl(['auth', 'can-i', ...args], { as: 'sa' });
      expect(`${args.join(' ')}: ${r.stdout.trim()}`).toBe(`${args.join(' ')}: no`);
    }
    // And the API server agrees when asked as the ServiceAccount through impersonation (SelfSubjectAccessReview via --as).
    const impersonated = await kubectl(['auth', 'can-i', 'list', 'secrets', '-A', '--as', SA_USER]);
    expect(impersonated.stdout.trim()).toBe('no');
    expect((await kubectl(['auth', 'can-i', 'watch', 'namespaces', '--as', SA_USER])).stdout.trim()).toBe('yes');
  });

  it('the label ws-drain.io/inject=enabled opts in new pods with a TCP port within seconds; enabled: "false" and port-less pods stay out', async () => {
    await createNamespace(cp, 'team-label');
    await waitForInjectionActive(cp, 'team-label');
    expect(planOf(await tryPod('team-label'))).toBeUndefined();
    await ok(['label', 'namespace', 'team-label', `${LABEL}=enabled`]);
    await pickedUp('label enabled', async () => planOf(await tryPod('team-label'))?.['from']?.['enabled'] === 'namespace');
    expect(planOf(await tryPod('team-label', { 'ws-drain/enabled': 'false' }))).toBeUndefined();
    const portless = await tryPod('team-label', undefined, false);
    expect(portless.response.status).toBe(201);
    expect(planOf(portless)).toBeUndefined();
    await ok(['label', 'namespace', 'team-label', `${LABEL}=disabled`, '--overwrite']);
    await pickedUp('label disabled', async () => {
      const r = await tryPod('team-label', { 'ws-drain/session-p95': '1m' });
      return r.response.status === 201 && planOf(r) === undefined;
    });
  });

  it('ws-drain/ annotations on the Namespace are defaults, the pod\'s own values win, and changes reach new pods within seconds', async () => {
    await createNamespace(cp, 'team-defaults');
    await waitForInjectionActive(cp, 'team-defaults');
    await ok(['annotate', 'namespace', 'team-defaults', 'ws-drain/prestop-delay=45s', 'ws-drain/cleanup=20s']);
    await pickedUp('namespace annotations added', async () => planOf(await tryPod('team-defaults', { 'ws-drain/session-p95': '1m' }))?.['prestopDelaySeconds'] === 45);
    const plan = planOf(await tryPod('team-defaults', { 'ws-drain/session-p95': '1m', 'ws-drain/cleanup': '5s' }));
    expect(plan).toMatchObject({ prestopDelaySeconds: 45, cleanupSeconds: 5, sessionP95Seconds: 60 });
    expect(plan?.['from']).toMatchObject({ 'prestop-delay': 'namespace', cleanup: 'pod', 'session-p95': 'pod', 'grace-margin': 'default' });
    await ok(['annotate', 'namespace', 'team-defaults', 'ws-drain/prestop-delay=30s', '--overwrite']);
    await pickedUp('namespace annotation changed', async () => planOf(await tryPod('team-defaults', { 'ws-drain/session-p95': '1m' }))?.['prestopDelaySeconds'] === 30);
  });

  it('an invalid namespace value is ignored by its pods with a warning (never denies them); /validate refuses it at kubectl annotate', async () => {
    // Stored while /validate is not registered yet (an install older than the annotation, or the webhook down).
    await createNamespace(cp, 'team-typo');
    await ok(['annotate', 'namespace', 'team-typo', 'ws-drain/cleanup=5 min']);
    await waitForInjectionActive(cp, 'team-typo');
    const r = await tryPod('team-typo', { 'ws-drain/session-p95': '1m' });
    expect(r.response.status).toBe(201);
    expect(planOf(r)).toMatchObject({ cleanupSeconds: 10, from: { cleanup: 'default' }, namespaceIgnored: ['ws-drain/cleanup'] });
    expect(r.response.warnings.join('\n')).toContain('namespace team-typo: ignored ws-drain/cleanup: "5 min" is not a duration');

    await applyObjects(cp, [await loadValidatingWebhook(`https://127.0.0.1:${webhook.running.port}/validate`, webhook.caPem)]);
    const refused = await pickedUp('validating webhook for namespaces active', async () => {
      const a = await kubectl(['annotate', 'namespace', 'team-typo', 'ws-drain/prestop-delay=soon', '--dry-run=server']);
      return a.code !== 0 && a.stderr.includes('validate-namespaces.ws-drain.io');
    });
    expect(refused).toBeGreaterThanOrEqual(0);
    const a = await kubectl(['annotate', 'namespace', 'team-typo', 'ws-drain/prestop-delay=soon']);
    expect(a.code).toBe(1);
    expect(a.stderr).toContain('ws-drain/prestop-delay: "soon" is not a duration');
    // An unrelated change to a namespace that already carries a bad value goes through, with a warning.
    const relabel = await kubectl(['label', 'namespace', 'team-typo', 'team=chat']);
    expect(relabel.code, relabel.stderr).toBe(0);
    expect(relabel.stderr).toContain('ws-drain/cleanup ignored by its pods');
  });

  it('kubectl apply of a Deployment judges its template with the namespace\'s opt-in and defaults, as its pods will be', async () => {
    await createNamespace(cp, 'team-reject', { [LABEL]: 'enabled' });
    await ok(['annotate', 'namespace', 'team-reject', 'ws-drain/enforce=reject']);
    const deployment = (name: string, grace?: number) =>
      JSON.stringify({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name, namespace: 'team-reject' },
        spec: {
          selector: { matchLabels: { app: name } },
          template: {
            metadata: { labels: { app: name } },
            spec: { ...(grace ? { terminationGracePeriodSeconds: grace } : {}), containers: [{ name: 'chat', image: 'registry.example/chat:1', ports: [{ containerPort: 8080 }] }] },
          },
        },
      });
    await pickedUp('Deployment judged with namespace defaults', async () => {
      const r = await kubectl(['apply', '--dry-run=server', '-f', '-'], { stdin: deployment('short-grace') });
      return r.code !== 0 && r.stderr.includes('(defaults from namespace team-reject: ws-drain/enforce)');
    });
    const good = await kubectl(['apply', '-f', '-'], { stdin: deployment('long-grace', 600) });
    expect(good.code, good.stderr).toBe(0);
    // Its pods get the same decision at CREATE.
    const pod = await tryPod('team-reject');
    expect(pod.response.status).toBe(422);
    expect(pod.message).toContain('(defaults from namespace team-reject: ws-drain/enforce)');
  });
});

/** A token of the webhook's ServiceAccount bound to a Secret of its own: deleting the Secret revokes it. */
async function boundToken(secret: string): Promise<string> {
  const created = await cp.request('POST', `/api/v1/namespaces/${SA.namespace}/secrets`, { apiVersion: 'v1', kind: 'Secret', metadata: { name: secret } });
  expect(created.status, created.body).toBe(201);
  const uid = (JSON.parse(created.body) as { metadata: { uid: string } }).metadata.uid;
  const tr = await cp.request('POST', `/api/v1/namespaces/${SA.namespace}/serviceaccounts/${SA.name}/token`, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { expirationSeconds: 3600, boundObjectRef: { apiVersion: 'v1', kind: 'Secret', name: secret, uid } },
  });
  expect(tr.status, tr.body).toBe(201);
  return (JSON.parse(tr.body) as { status: { token: string } }).status.token;
}

/** The HTTP status the API server answers a GET with, as `token`. */
function statusAs(token: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    httpsRequest(new URL(path, cp.url), { ca: cp.caPem, agent: false, headers: { authorization: `Bearer ${token}` } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on('error', reject)
      .end();
  });
}

describe('the informer as in a pod (service account files, a rotated token, 410 Gone)', () => {
  let relay: TcpRelay;
  let informer: NamespaceCache | undefined;
  let saDir = '';
  let tokenA = '';
  const { logger, lines } = capturingLogger();
  const logged = (msg: string): boolean => lines.some((l) => l['msg'] === msg);
  const prestopDelay = (ns: string): string | undefined => informer?.view(ns).annotations?.['ws-drain/prestop-delay'];
  /** As the kubelet does: the new file appears whole (it swaps a symlink; a rename is the same to a reader). */
  const writeToken = async (token: string): Promise<void> => {
    await writeFile(join(saDir, '.token.new'), token);
    await rename(join(saDir, '.token.new'), join(saDir, 'token'));
  };

  afterAll(async () => {
    await informer?.stop();
    await relay?.close();
  });

  it('reads the API server from KUBERNETES_SERVICE_HOST/PORT and the CA and token from the service account directory', async () => {
    relay = await startTcpRelay(Number(new URL(cp.url).port));
    saDir = await mkdtemp(join(cp.workDir, 'serviceaccount-'));
    await writeFile(join(saDir, 'ca.crt'), cp.caPem);
    tokenA = await boundToken('informer-token-a');
    await writeToken(tokenA);
    await createNamespace(cp, 'pod-keep');
    await ok(['annotate', 'namespace', 'pod-keep', 'ws-drain/prestop-delay=41s']);
    await createNamespace(cp, 'pod-gone');
    const env = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(relay.port) };
    const connection = inClusterConnection({ env, dir: saDir });
    expect(connection.server).toBe(`https://127.0.0.1:${relay.port}`);
    informer = startNamespaceInformer({ connection, config: DEFAULT_CONFIG, logger, metrics: createMetrics({ defaultMetrics: false }), initialBackoffMs: 200, maxBackoffMs: 2_000 });
    await eventually('in-cluster informer synced', async () => (informer?.synced() ? true : undefined), PICKUP_MS);
    expect(prestopDelay('pod-keep')).toBe('41s');
    expect(informer.view('pod-gone').known).not.toBe(false);
    expect(lines.find((l) => l['msg'] === 'namespace informer synced')).toMatchObject({ server: `https://127.0.0.1:${relay.port}` });
  });

  it('reads the token file again for each request: once the old token is revoked and the file rewritten, the watch comes back with the new one', async () => {
    const tokenB = await boundToken('informer-token-b');
    const revoked = await cp.request('DELETE', `/api/v1/namespaces/${SA.namespace}/secrets/informer-token-a`);
    expect(revoked.status, revoked.body).toBe(200);
    // The API server caches a token's review for a few seconds: wait until it refuses token A.
    await eventually('token A refused', async () => ((await statusAs(tokenA, '/api/v1/namespaces?limit=1')) === 401 ? true : undefined), PICKUP_MS);
    expect(await statusAs(tokenB, '/api/v1/namespaces?limit=1')).toBe(200);
    await writeToken(tokenB);
    const connections = relay.accepted();
    relay.cut();
    // Made after the cut: only a new watch, authenticated with token B, can bring it.
    await ok(['annotate', 'namespace', 'pod-keep', 'ws-drain/prestop-delay=42s', '--overwrite']);
    await eventually('change seen through a new watch', async () => (prestopDelay('pod-keep') === '42s' ? true : undefined), PICKUP_MS);
    expect(relay.accepted()).toBeGreaterThan(connections);
  });

  it('lists again after 410 Gone: a namespace deleted while the watch was cut off is dropped, one changed is updated', async () => {
    relay.hold(true);
    relay.cut();
    // No namespace controller runs here to empty a deleted namespace and remove its finalizer: done by hand.
    expect((await cp.request('DELETE', '/api/v1/namespaces/pod-gone')).status).toBe(200);
    const finalized = await cp.request('PUT', '/api/v1/namespaces/pod-gone/finalize', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'pod-gone' }, spec: { finalizers: [] } });
    expect(finalized.status, finalized.body).toBe(200);
    await eventually('pod-gone deleted', async () => ((await cp.request('GET', '/api/v1/namespaces/pod-gone')).status === 404 ? true : undefined), PICKUP_MS);
    await ok(['annotate', 'namespace', 'pod-keep', 'ws-drain/prestop-delay=43s', '--overwrite']);
    // A new API server's watch cache starts at the resourceVersion it lists: the informer's
    // is older than that (the changes above came after it), so its next watch gets 410 Gone.
    await cp.stopApiserver();
    await cp.startApiserver();
    expect(informer?.view('pod-gone').known).not.toBe(false);
    relay.hold(false);
    await eventually('re-listed', async () => (informer?.view('pod-gone').known === false && prestopDelay('pod-keep') === '43s' ? true : undefined), PICKUP_MS);
    expect(logged('namespace watch expired (410 Gone); listing again')).toBe(true);
    expect(logged('namespaces listed again')).toBe(true);
  });
});

/** Namespace WATCH requests the API server has open now (its own loopback informers included). */
async function namespaceWatches(): Promise<number> {
  const r = await cp.request('GET', '/metrics');
  expect(r.status).toBe(200);
  let total = 0;
  for (const line of r.body.split('\n')) {
    if (line.startsWith('apiserver_longrunning_requests{') && line.includes('resource="namespaces"') && line.includes('verb="WATCH"')) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

describe('serve --workers 2: one namespace informer per pod, in the primary', () => {
  let relay: TcpRelay;
  let serve: ServeProcess | undefined;
  afterAll(async () => {
    await serve?.cleanup();
    await relay?.close();
  });
  /** A pod with a TCP port and no ws-drain annotation: injected only when its namespace opts in. */
  const portPod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'probe', namespace: 'team-workers' }, spec: { containers: [{ name: 'app', image: 'registry.example/app:1', ports: [{ containerPort: 8080 }] }] } };
  let reviews = 0;
  /** One review on a new connection (the primary hands them to the workers in turn): which worker answered, with what. */
  async function review(s: ServeProcess): Promise<{ worker: unknown; outcome: unknown }> {
    const uid = `workers-ns-${reviews++}`;
    const res = await s.request('POST', '/mutate', JSON.stringify(admissionReview({ uid, namespace: 'team-workers', object: portPod })), { newConnection: true });
    expect(res.status).toBe(200);
    const line = await s.waitForLine((l) => l['msg'] === 'admission' && l['uid'] === uid);
    return { worker: line['worker'], outcome: line['outcome'] };
  }
  /** Polls until every worker in `workers` answered a review of team-workers with `outcome`. */
  async function everyWorker(s: ServeProcess, workers: number[], outcome: string, what: string): Promise<void> {
    const seen = new Set<unknown>();
    await pickedUp(what, async () => {
      const r = await review(s);
      if (r.outcome === outcome) seen.add(r.worker);
      else seen.delete(r.worker);
      return workers.every((w) => seen.has(w));
    });
  }
  const readyzAll = async (s: ServeProcess): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < 4; i++) out.push((await s.request('GET', '/readyz', undefined, { newConnection: true })).status);
    return out;
  };

  it('every worker is 503 until the primary has listed; then ONE watch, and a label change reaches admission in both workers', async () => {
    await createNamespace(cp, 'team-workers');
    relay = await startTcpRelay(Number(new URL(cp.url).port));
    relay.hold(true);
    const tr = await cp.request('POST', `/api/v1/namespaces/${SA.namespace}/serviceaccounts/${SA.name}/token`, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } });
    expect(tr.status, tr.body).toBe(201);
    const token = (JSON.parse(tr.body) as { status: { token: string } }).status.token;
    const kubeconfig = join(cp.workDir, 'workers.kubeconfig');
    await writeFile(kubeconfig, cp.kubeconfigYaml({ user: SA_USER, token }).replace(cp.url, `https://127.0.0.1:${relay.port}`), { mode: 0o600 });
    const before = await namespaceWatches();
    serve = await startServe(['--workers', '2', '--kubeconfig', kubeconfig], { WS_DRAIN_NAMESPACE_SOURCE: 'cluster' });
    const s = serve;
    // The API server cannot be reached: no worker is ready, whichever answers.
    await s.waitForLine((l) => l['msg'] === 'namespace watch lost; admission keeps the last known namespaces');
    expect(await readyzAll(s)).toEqual([503, 503, 503, 503]);
    const metricsText = await getMetrics(s.metricsPort);
    expect(metricsText).toMatch(/^ws_drain_namespace_informer_synced 0$/m);
    expect(metricsText).toMatch(/^ws_drain_namespace_watch_errors_total [1-9]\d*$/m);

    relay.hold(false);
    await eventually('every worker ready', async () => ((await readyzAll(s)).every((c) => c === 200) ? true : undefined), PICKUP_MS);
    await s.waitForLine((l) => l['msg'] === 'namespaces received from the primary' && l['worker'] === 1);
    await s.waitForLine((l) => l['msg'] === 'namespaces received from the primary' && l['worker'] === 2);
    await everyWorker(s, [1, 2], 'skipped', 'team-workers not opted in, in both workers');
    await ok(['label', 'namespace', 'team-workers', `${LABEL}=enabled`]);
    // Only a watch brings this change: the workers have it once the primary's watch is open.
    await everyWorker(s, [1, 2], 'mutated', 'label enabled, in both workers (serve --workers 2)');
    // One informer for the pod: listed once (in the primary), one more watch at the API server.
    expect(s.lines.filter((l) => l['msg'] === 'namespace informer synced').map((l) => l['worker'])).toEqual([undefined]);
    expect((await namespaceWatches()) - before).toBe(1);
    const synced = await getMetrics(s.metricsPort);
    expect(synced).toMatch(/^ws_drain_namespace_informer_synced 1$/m);
    expect(synced.match(/^ws_drain_namespace_informer_synced /gm)).toHaveLength(1);
  });

  it('a worker started after a crash gets the current namespaces first, then changes; still one watch', async () => {
    const s = serve!;
    const before = await namespaceWatches();
    const pids = await childPids(s.child.pid!);
    expect(pids).toHaveLength(2);
    process.kill(pids[0]!, 'SIGKILL');
    const dead = (await s.waitForLine((l) => l['msg'] === 'worker died; starting another'))['worker'];
    const workers = [dead === 1 ? 2 : 1, 3];
    await s.waitForLine((l) => l['msg'] === 'ws-drain webhook listening' && l['worker'] === 3);
    await s.waitForLine((l) => l['msg'] === 'namespaces received from the primary' && l['worker'] === 3);
    // The label set before it started: the replacement has it from the snapshot, not from a watch of its own.
    await everyWorker(s, workers, 'mutated', 'label known to the replacement worker');
    await ok(['label', 'namespace', 'team-workers', `${LABEL}=disabled`, '--overwrite']);
    await everyWorker(s, workers, 'skipped', 'label disabled, in both workers after the replacement');
    expect(await namespaceWatches()).toBe(before);
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
  });
});

describe('the informer across an API server restart', () => {
  it('keeps the last known namespaces while the API server is down, counts the lost watch, and picks up changes made after it is back', async () => {
    const errorsBefore = await metric('ws_drain_namespace_watch_errors_total');
    await cp.stopApiserver();
    await eventually('lost watch counted', async () => ((await metric('ws_drain_namespace_watch_errors_total')) > errorsBefore ? true : undefined), PICKUP_MS);
    // Admission keeps the last state: still ready, still has the namespace's defaults.
    expect((await readyz()).status).toBe(200);
    await cp.startApiserver();
    await waitForInjectionActive(cp, 'team-defaults');
    expect(planOf(await tryPod('team-defaults', { 'ws-drain/session-p95': '1m' }))?.['prestopDelaySeconds']).toBe(30);
    await ok(['annotate', 'namespace', 'team-defaults', 'ws-drain/prestop-delay=25s', '--overwrite']);
    await pickedUp('annotation changed after the API server restart', async () => planOf(await tryPod('team-defaults', { 'ws-drain/session-p95': '1m' }))?.['prestopDelaySeconds'] === 25);
  });
});

describe('the guard with namespace opt-in', () => {
  it('denies a pod opted in by its namespace label that the webhook did not inject; leaves port-less and opted-out pods alone', async () => {
    await createNamespace(cp, 'team-guard', { [LABEL]: 'enabled' });
    // Registered, then taken down: failurePolicy Ignore lets pods through un-injected.
    await webhook.running.close();
    const denied = await pickedUp('guard denies a namespace-opted-in pod', async () => {
      const r = await tryPod('team-guard');
      return r.response.status === 403 && (r.message ?? '').includes('ws-drain-require-injection');
    });
    expect(denied).toBeGreaterThanOrEqual(0);
    const r = await tryPod('team-guard');
    expect(r.message).toContain('the namespace label ws-drain.io/inject: enabled');
    expect((await tryPod('team-guard', undefined, false)).response.status).toBe(201);
    expect((await tryPod('team-guard', { 'ws-drain/enabled': 'false' })).response.status).toBe(201);
    // A pod whose only TCP port is a mesh proxy's: not opted in, as in the core.
    const meshOnly = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'mesh-only' },
      spec: { containers: [{ name: 'job', image: 'registry.example/job:1' }, { name: 'istio-proxy', image: 'registry.example/proxyv2:1', ports: [{ containerPort: 15090 }] }] },
    };
    expect((await createPod(cp, 'team-guard', meshOnly, { dryRun: true })).response.status).toBe(201);
  });
});
