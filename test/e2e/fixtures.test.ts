// Every pod and pod template in test/fixtures/ goes through the real API server
// with the webhook registered: what the core decides offline must be what the
// cluster does, and every mutated pod must pass the API server's own validation.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { DEFAULT_CONFIG } from '../../src/core/config.js';
import { decide } from '../../src/core/decide.js';
import { INJECTED_ANNOTATION, PLAN_ANNOTATION } from '../../src/core/types.js';
import { REPO_ROOT } from './controlplane/binaries.js';
import { createNamespace, createPod, StoredPod } from './controlplane/pods.js';
import { useWebhookCluster } from './controlplane/suite.js';

const FIXTURES = join(REPO_ROOT, 'test/fixtures');

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    // NAME.expected.yaml are the core's golden outputs, not inputs.
    e.isDirectory() ? yamlFiles(join(dir, e.name)) : /\.ya?ml$/.test(e.name) && !/\.expected\.ya?ml$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

/** Where a workload kind keeps its pod template. */
function templatePath(kind: string): string[] | undefined {
  switch (kind) {
    case 'Deployment':
    case 'StatefulSet':
    case 'DaemonSet':
    case 'ReplicaSet':
    case 'ReplicationController':
    case 'Job':
      return ['spec', 'template'];
    case 'CronJob':
      return ['spec', 'jobTemplate', 'spec', 'template'];
    case 'PodTemplate':
      return ['template'];
    default:
      return undefined;
  }
}

function getIn(obj: Json, path: string[]): Json | undefined {
  let at: unknown = obj;
  for (const key of path) at = isObject(at) ? at[key] : undefined;
  return isObject(at) ? at : undefined;
}

function setIn(obj: Json, path: string[], value: Json): Json {
  const [head, ...rest] = path;
  if (head === undefined) return value;
  const child = isObject(obj[head]) ? (obj[head] as Json) : {};
  return { ...obj, [head]: setIn(child, rest, value) };
}

/**
 * A StatefulSet's pods get a volume per volumeClaimTemplate from the controller;
 * add them the same way so the wrapped template is a valid pod.
 */
function withClaimVolumes(object: Json, name: string, spec: Json): Json {
  const claims = object.kind === 'StatefulSet' && isObject(object.spec) && Array.isArray(object.spec.volumeClaimTemplates) ? object.spec.volumeClaimTemplates : [];
  const volumes = claims.flatMap((c: unknown) => {
    const claimName = isObject(c) && isObject(c.metadata) && typeof c.metadata.name === 'string' ? c.metadata.name : undefined;
    return claimName ? [{ name: claimName, persistentVolumeClaim: { claimName: `${claimName}-${name}-0` } }] : [];
  });
  if (volumes.length === 0) return spec;
  return { ...spec, volumes: [...(Array.isArray(spec.volumes) ? spec.volumes : []), ...volumes] };
}

interface FixtureCase {
  id: string;
  /** The object as written in the fixture. */
  object: Json;
  /** The pod the API server will see: the object itself, or its template wrapped in a Pod. */
  pod: Json;
  templateAt?: string[];
}

function loadCases(): FixtureCase[] {
  const cases: FixtureCase[] = [];
  for (const file of yamlFiles(FIXTURES)) {
    parseAllDocuments(readFileSync(file, 'utf8')).forEach((doc, index) => {
      const object: unknown = doc.toJS();
      if (!isObject(object) || typeof object.kind !== 'string') return;
      const id = `${relative(FIXTURES, file)}#${index} ${object.kind}`;
      const metadata = isObject(object.metadata) ? object.metadata : {};
      const baseName = typeof metadata.name === 'string' ? metadata.name : `fixture-${index}`;
      if (object.kind === 'Pod') {
        cases.push({ id, object, pod: { ...object, metadata: { ...metadata, name: baseName, namespace: undefined } } });
        return;
      }
      const at = templatePath(object.kind);
      const template = at ? getIn(object, at) : undefined;
      if (!at || !template) return;
      const tmeta = isObject(template.metadata) ? template.metadata : {};
      const spec = isObject(template.spec) ? template.spec : {};
      cases.push({
        id,
        object,
        templateAt: at,
        pod: { apiVersion: 'v1', kind: 'Pod', metadata: { ...tmeta, name: `${baseName}-pod` }, spec: withClaimVolumes(object, baseName, spec) },
      });
    });
  }
  return cases;
}

const cases = loadCases();

const cluster = useWebhookCluster('e2e-fixtures');

describe('test/fixtures through the real API server', () => {
  it('has fixtures to run', () => {
    expect(cases.length, `no Pod or workload YAML under ${FIXTURES}`).toBeGreaterThan(0);
  });

  it.each(cases.map((c, i) => [c.id, c, i] as const))('%s', async (_id, fixture, i) => {
    const ns = `e2e-fixture-${i}`;
    await createNamespace(cluster.cp, ns);
    const expected = decide(fixture.pod, ns, DEFAULT_CONFIG);
    const created = await createPod(cluster.cp, ns, fixture.pod);

    if (expected.kind === 'deny') {
      expect(created.response.status).toBeGreaterThanOrEqual(400);
      expect(created.message).toContain(expected.message);
      return;
    }
    expect(created.response.status, created.message).toBe(201);
    const stored = created.pod;
    if (!stored) throw new Error('no pod returned');
    if (expected.kind === 'skip') {
      expect(stored.metadata.annotations?.[INJECTED_ANNOTATION]).toBeUndefined();
      return;
    }
    // What the cluster stored carries exactly the injection the core computed
    // (the API server only adds defaults around it).
    const want = StoredPod.parse(expected.pod);
    expect(stored.metadata.annotations?.[INJECTED_ANNOTATION]).toBeTruthy();
    expect(stored.metadata.annotations?.[PLAN_ANNOTATION]).toBe(want.metadata.annotations?.[PLAN_ANNOTATION]);
    expect(stored.spec.initContainers?.map((c) => c.name)).toEqual(want.spec.initContainers?.map((c) => c.name));
    expect(stored.spec.volumes?.map((v) => v.name)).toEqual(want.spec.volumes?.map((v) => v.name));
    expect(stored.spec.terminationGracePeriodSeconds).toBe(expected.plan.graceSeconds);
    for (const container of want.spec.containers) {
      const got = stored.spec.containers.find((c) => c.name === container.name);
      expect(got?.lifecycle?.preStop?.exec?.command).toEqual(container.lifecycle?.preStop?.exec?.command);
    }

    // A workload whose template carries the mutation (what `ws-drain inject`
    // writes) must also pass the API server's validation of that kind.
    if (fixture.templateAt && isObject(expected.pod)) {
      const mutated = expected.pod;
      const template = { metadata: { ...(isObject(mutated.metadata) ? mutated.metadata : {}), name: undefined }, spec: mutated.spec };
      const workload = setIn({ ...fixture.object, metadata: { ...(fixture.object.metadata as Json), namespace: ns } }, fixture.templateAt, template);
      const client = KubernetesObjectApi.makeApiClient(cluster.cp.kubeConfig());
      await expect(client.create(workload as KubernetesObject)).resolves.toBeDefined();
    }
  });
});
