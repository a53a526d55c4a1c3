// The kustomize install and the Helm chart against a real kube-apiserver: every
// rendered object of manifests/, manifests/base and each overlay is server-side applied with
// dryRun=All, so schema, defaulting, validation (CEL in the VAP included) and
// admission (PodSecurity) run exactly as `kubectl apply --server-side` would.
// Kinds the bare API server does not serve (cert-manager, Prometheus Operator
// CRDs) are skipped by name, and only those.
import { readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubernetesObjectApi, PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CHART_DIR, RELEASE, helm } from '../manifests/helm.js';
import { REPO_ROOT, parseObjects, renderKustomize, type KubeObject } from '../manifests/render.js';
import { startControlPlane, type ControlPlane } from './controlplane/controlplane.js';
import { createPod, eventually } from './controlplane/pods.js';
import { loadMutatingWebhook } from './controlplane/registration.js';

const FIELD_MANAGER = 'ws-drain-test';
const INSTALL_NAMESPACE = 'ws-drain-system';

// The only kinds allowed to be missing from a bare API server. Anything else
// that discovery does not know (say `apps/v1beta1 Deployment`) fails the test
// instead of being quietly skipped.
const CRD_KINDS = new Set([
  'cert-manager.io/v1 Issuer',
  'cert-manager.io/v1 Certificate',
  'monitoring.coreos.com/v1 ServiceMonitor',
  'monitoring.coreos.com/v1 PrometheusRule',
]);

const TARGETS = [
  'manifests',
  'manifests/base',
  ...readdirSync(join(REPO_ROOT, 'manifests/overlays'), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => `manifests/overlays/${entry.name}`)
    .sort(),
];

const APIResourceList = z.looseObject({
  groupVersion: z.string(),
  resources: z.array(z.looseObject({ name: z.string(), kind: z.string(), namespaced: z.boolean() })),
});

const gvk = (obj: { apiVersion: string; kind: string }): string => `${obj.apiVersion} ${obj.kind}`;
const describeObject = (obj: KubeObject): string => `${gvk(obj)} ${obj.metadata.namespace ? `${obj.metadata.namespace}/` : ''}${obj.metadata.name}`;

let cp: ControlPlane;
let objects: KubernetesObjectApi;
const renders = new Map<string, KubeObject[]>();
const discovered = new Map<string, Promise<Set<string>>>();

/** Kinds the API server serves for one apiVersion (top-level resources only), from its discovery endpoint. */
function servedKinds(apiVersion: string): Promise<Set<string>> {
  let cached = discovered.get(apiVersion);
  if (cached === undefined) {
    cached = (async () => {
      const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
      const response = await cp.request('GET', path);
      if (response.status === 404) return new Set<string>();
      if (response.status !== 200) throw new Error(`discovery GET ${path}: ${response.status} ${response.body}`);
      const list = APIResourceList.parse(JSON.parse(response.body));
      // Subresources (pods/status) share the parent's kind; leave them out.
      return new Set(list.resources.filter((r) => !r.name.includes('/')).map((r) => r.kind));
    })();
    discovered.set(apiVersion, cached);
  }
  return cached;
}

async function isServed(obj: KubeObject): Promise<boolean> {
  return (await servedKinds(obj.apiVersion)).has(obj.kind);
}

/** Server-side apply; the API server's Status message is surfaced instead of client-node's generic one. */
async function serverSideApply(obj: KubeObject, dryRun: boolean): Promise<KubernetesObject> {
  try {
    return await objects.patch(obj as KubernetesObject, undefined, dryRun ? 'All' : undefined, FIELD_MANAGER, undefined, PatchStrategy.ServerSideApply);
  } catch (err) {
    const body = (err as { body?: unknown }).body;
    throw new Error(`server-side apply${dryRun ? ' (dryRun=All)' : ''} of ${describeObject(obj)} failed: ${typeof body === 'string' ? body : String(err)}`);
  }
}

async function exists(obj: KubeObject): Promise<boolean> {
  try {
    await objects.read({ apiVersion: obj.apiVersion, kind: obj.kind, metadata: { name: obj.metadata.name, namespace: obj.metadata.namespace } });
    return true;
  } catch (err) {
    if ((err as { code?: number }).code === 404) return false;
    throw err;
  }
}

beforeAll(async () => {
  for (const target of TARGETS) renders.set(target, await renderKustomize(target));
  cp = await startControlPlane();
  objects = KubernetesObjectApi.makeApiClient(cp.kubeConfig());
});

afterAll(async () => {
  await cp?.stop();
});

function rendered(target: string): KubeObject[] {
  const list = renders.get(target);
  if (list === undefined) throw new Error(`${target} was not rendered`);
  return list;
}

describe('kustomize renders against the real API server (server-side apply, dryRun=All)', () => {
  it('finds the base and at least the four documented overlays', () => {
    expect(TARGETS).toEqual(expect.arrayContaining(['manifests', 'manifests/base', 'manifests/overlays/ha', 'manifests/overlays/fail-closed', 'manifests/overlays/monitoring', 'manifests/overlays/example-config']));
  });

  // A dry-run Namespace is not stored, so the namespaced objects need the real
  // one. Dry-run every render's Namespace while it is still a create, then
  // create it for real from the base render.
  it(`dry-run creates each render's Namespace, then really creates ${INSTALL_NAMESPACE} from manifests/base`, async () => {
    for (const target of TARGETS) {
      const namespaces = rendered(target).filter((o) => o.apiVersion === 'v1' && o.kind === 'Namespace');
      expect(namespaces.map((n) => n.metadata.name), target).toEqual([INSTALL_NAMESPACE]);
      for (const ns of namespaces) {
        const result = await serverSideApply(ns, true);
        expect(result.metadata?.name).toBe(INSTALL_NAMESPACE);
      }
    }
    const [baseNamespace] = rendered('manifests/base').filter((o) => o.kind === 'Namespace');
    if (baseNamespace === undefined) throw new Error('manifests/base renders no Namespace');
    expect(await exists(baseNamespace), 'dry-run must not have created the namespace').toBe(false);
    const created = await serverSideApply(baseNamespace, false);
    expect(created.metadata?.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });

  const skippedByTarget = new Map<string, string[]>();

  for (const target of TARGETS) {
    it(`${target}: every served kind applies; only CRD kinds are skipped`, async () => {
      const skipped: string[] = [];
      const applied: string[] = [];
      for (const obj of rendered(target)) {
        if (!(await isServed(obj))) {
          skipped.push(describeObject(obj));
          expect(CRD_KINDS.has(gvk(obj)), `${describeObject(obj)} is not served by kube-apiserver and is not a known CRD kind (typo in apiVersion/kind?)`).toBe(true);
          continue;
        }
        const result = await serverSideApply(obj, true);
        expect(result.kind).toBe(obj.kind);
        expect(result.metadata?.name).toBe(obj.metadata.name);
        applied.push(describeObject(obj));
      }
      // Visible in the test output: what this render leaves to the CRDs' owners.
      process.stdout.write(`[manifests-dry-run] ${target}: applied ${applied.length}, skipped (CRD kinds not served): ${skipped.join(', ') || 'none'}\n`);
      skippedByTarget.set(target, skipped);

      // Every CRD-kind object of the render was skipped, and nothing else.
      const crdObjects = rendered(target).filter((o) => CRD_KINDS.has(gvk(o))).map(describeObject);
      expect(skipped.sort()).toEqual(crdObjects.sort());
      expect(applied.length).toBeGreaterThan(0);

      // dryRun=All really stored nothing.
      for (const obj of rendered(target)) {
        if (obj.kind === 'Namespace' || !(await isServed(obj))) continue;
        expect(await exists(obj), `${describeObject(obj)} exists after a dry run`).toBe(false);
      }
    });
  }

  it('the skipped kinds across all renders are exactly the cert-manager and Prometheus Operator kinds', () => {
    expect(skippedByTarget.size, 'the per-render tests ran first').toBe(TARGETS.length);
    // The union of what the per-render tests actually skipped, reduced to kinds:
    // no allow-listed kind is dead, and no other kind was skipped.
    const actuallySkipped = new Set([...skippedByTarget.values()].flat().map((d) => d.split(' ').slice(0, 2).join(' ')));
    expect([...actuallySkipped].sort()).toEqual([...CRD_KINDS].sort());
  });

  // The Namespace enforces Pod Security "restricted"; a Deployment is only
  // checked when its pods are created, which needs a controller-manager. Create
  // the pod template directly (dry run) so enforcement runs on it now.
  for (const target of TARGETS) {
    it(`${target}: the webhook Deployment's pod template is admitted under Pod Security "restricted"`, async () => {
      const deployments = rendered(target).filter((o) => o.kind === 'Deployment');
      expect(deployments).toHaveLength(1);
      const template = z
        .object({ spec: z.object({ template: z.object({ metadata: z.looseObject({}).optional(), spec: z.looseObject({}) }) }) })
        .parse(deployments[0]).spec.template;
      const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { ...template.metadata, name: 'webhook-template' }, spec: template.spec };
      const result = await createPod(cp, INSTALL_NAMESPACE, pod, { dryRun: true });
      expect(result.response.status, result.message).toBe(201);
    });
  }
});

// Negative controls: the checks above would notice a broken manifest.
describe('the dry run rejects what a cluster would reject', () => {
  const baseObject = (kind: string): KubeObject => {
    const found = rendered('manifests/base').find((o) => o.kind === kind);
    if (found === undefined) throw new Error(`manifests/base renders no ${kind}`);
    return structuredClone(found);
  };

  it('a built-in kind under a typo\'d apiVersion is neither served nor an allowed CRD kind', async () => {
    const typo = { ...baseObject('Deployment'), apiVersion: 'apps/v1beta1' };
    expect(await isServed(typo)).toBe(false);
    expect(CRD_KINDS.has(gvk(typo))).toBe(false);
  });

  it('an invalid Deployment and a VAP with broken CEL are refused by dryRun=All', async () => {
    const deployment = baseObject('Deployment');
    await expect(serverSideApply({ ...deployment, spec: { ...(deployment.spec as object), replicas: -1 } } as KubeObject, true)).rejects.toThrow(/replicas/);
    const policy = baseObject('ValidatingAdmissionPolicy') as KubeObject & { spec: { validations: { expression: string }[] } };
    policy.spec.validations[0] = { ...policy.spec.validations[0], expression: "variables.optedIn &&" };
    await expect(serverSideApply(policy, true)).rejects.toThrow(/compil|Syntax|syntax/);
  });
});

describe('one source of truth for the webhook registration', () => {
  const withoutClientConfig = (webhooks: readonly object[]): object[] =>
    webhooks.map((w) => Object.fromEntries(Object.entries(w).filter(([key]) => key !== 'clientConfig')));
  const Registration = z.looseObject({ metadata: z.looseObject({ name: z.string() }), webhooks: z.array(z.looseObject({})) });

  for (const target of ['manifests', 'manifests/base']) {
    it(`${target}: the rendered MutatingWebhookConfiguration equals the one the e2e suite registers, clientConfig aside`, async () => {
      const configs = rendered(target).filter((o) => o.kind === 'MutatingWebhookConfiguration');
      expect(configs).toHaveLength(1);
      const fromRender = Registration.parse(configs[0]);
      const registered = await loadMutatingWebhook('https://127.0.0.1:1/mutate', cp.caPem);
      expect(fromRender.metadata.name).toBe(registered.metadata.name);
      expect(withoutClientConfig(fromRender.webhooks)).toEqual(withoutClientConfig(registered.webhooks));
    });
  }
});

// The Helm chart against the same API server. `helm install --dry-run=server`
// maps every object to a served resource and checks for objects it would not
// own, but sends nothing for validation; so each object of the manifest it
// prints is then server-side applied with dryRun=All, as the renders above.
// The bare API server serves no cert-manager or Prometheus Operator kinds:
// stand-in CRDs (same group, version, kind and scope; an open schema) make them
// served, so Helm can map them; their spec is not validated here (an open
// schema for spec).
describe('the Helm chart: helm install --dry-run=server, then each object dry-run applied', () => {
  const STAND_IN_CRDS = [
    { group: 'cert-manager.io', kind: 'Issuer', plural: 'issuers' },
    { group: 'cert-manager.io', kind: 'Certificate', plural: 'certificates' },
    { group: 'monitoring.coreos.com', kind: 'ServiceMonitor', plural: 'servicemonitors' },
    { group: 'monitoring.coreos.com', kind: 'PrometheusRule', plural: 'prometheusrules' },
  ];
  let scratch: string;
  let kubeconfig: string;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'ws-drain-chart-e2e-'));
    kubeconfig = join(scratch, 'kubeconfig');
    await writeFile(kubeconfig, cp.kubeconfigYaml(), { mode: 0o600 });
    // Helm installs into an existing namespace (created above, unless this block runs alone).
    const namespace = rendered('manifests/base').find((o) => o.kind === 'Namespace');
    if (namespace === undefined) throw new Error('manifests/base renders no Namespace');
    if (!(await exists(namespace))) await serverSideApply(namespace, false);
    for (const crd of STAND_IN_CRDS) {
      await objects.create({
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name: `${crd.plural}.${crd.group}` },
        spec: {
          group: crd.group,
          scope: 'Namespaced',
          names: { kind: crd.kind, plural: crd.plural, singular: crd.kind.toLowerCase(), listKind: `${crd.kind}List` },
          versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } } } }],
        },
      } as KubernetesObject);
    }
    discovered.clear();
    for (const crd of STAND_IN_CRDS) {
      await eventually(`${crd.group}/v1 ${crd.kind} served`, async () => {
        discovered.delete(`${crd.group}/v1`);
        return (await servedKinds(`${crd.group}/v1`)).has(crd.kind) ? true : undefined;
      });
    }
  });
  afterAll(async () => {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  async function helmDryRunInstall(values: Record<string, unknown>): Promise<KubeObject[]> {
    const result = await helm(
      ['install', RELEASE, CHART_DIR, '--namespace', INSTALL_NAMESPACE, '--dry-run=server', '--output', 'json', '--kubeconfig', kubeconfig, '--values', '{values}'],
      values,
    );
    if (result.code !== 0) throw new Error(`helm install --dry-run=server failed (exit ${result.code ?? result.signal}):\n${result.stderr.trim()}`);
    const release = z.looseObject({ manifest: z.string(), info: z.looseObject({ description: z.string(), notes: z.string() }) }).parse(JSON.parse(result.stdout));
    expect(release.info.description).toBe('Dry run complete');
    // NOTES.txt: what to run next, with the settings that matter in an outage.
    expect(release.info.notes).toContain(`kubectl -n ${INSTALL_NAMESPACE} rollout status deploy/ws-drain-webhook`);
    expect(release.info.notes).toMatch(/failurePolicy: (Ignore|Fail); guard: /);
    return parseObjects(release.manifest, 'helm install --dry-run=server');
  }

  it.each<[string, Record<string, unknown>]>([
    ['default values', {}],
    [
      'ha, fail-closed, monitoring, dashboard, extra selectors',
      {
        replicaCount: 3,
        podDisruptionBudget: { minAvailable: 2 },
        zoneSpread: 'DoNotSchedule',
        webhook: { failurePolicy: 'Fail', namespaceSelector: { matchLabels: { 'ws-drain.io/inject': 'enabled' } } },
        monitoring: { serviceMonitor: { enabled: true, labels: { release: 'prom' } }, prometheusRule: { enabled: true }, dashboard: { enabled: true } },
      },
    ],
  ])('%s: Helm maps and accepts every object, and the API server accepts each one (dryRun=All)', async (_name, values) => {
    const manifest = await helmDryRunInstall(values);
    expect(manifest.map((o) => o.kind)).toEqual(expect.arrayContaining(['Deployment', 'MutatingWebhookConfiguration', 'ValidatingAdmissionPolicy', 'Certificate']));
    for (const obj of manifest) {
      expect(await isServed(obj), `${describeObject(obj)} is served`).toBe(true);
      const result = await serverSideApply(obj, true);
      expect(result.metadata?.name).toBe(obj.metadata.name);
    }
    for (const obj of manifest) expect(await exists(obj), `${describeObject(obj)} exists after a dry run`).toBe(false);
  });

  it('refuses to install over an object of the same name it does not own (the server was asked)', async () => {
    const service = rendered('manifests/base').find((o) => o.kind === 'Service');
    if (service === undefined) throw new Error('manifests/base renders no Service');
    await serverSideApply(service, false);
    try {
      await expect(helmDryRunInstall({})).rejects.toThrow(/Service "ws-drain-webhook" in namespace "ws-drain-system" exists and cannot be imported into the current release/);
    } finally {
      await objects.delete(service as KubernetesObject);
    }
  });
});
