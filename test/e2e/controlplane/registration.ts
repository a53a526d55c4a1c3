import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { REPO_ROOT } from './binaries.js';
import type { ControlPlane } from './controlplane.js';

// One source of truth: the selectors, rules and policies the e2e suite registers
// are read from the install manifests; only the webhook's address changes.
export const MUTATING_WEBHOOK_MANIFEST = join(REPO_ROOT, 'manifests/base/mutating-webhook.yaml');
export const POLICY_MANIFEST = join(REPO_ROOT, 'manifests/base/validating-admission-policy.yaml');
export const VALIDATING_WEBHOOK_MANIFEST = join(REPO_ROOT, 'manifests/base/validating-webhook.yaml');

const ManifestObject = z.looseObject({
  apiVersion: z.string(),
  kind: z.string(),
  metadata: z.looseObject({ name: z.string(), annotations: z.record(z.string(), z.string()).optional() }),
});

const WebhookConfiguration = ManifestObject.extend({
  kind: z.enum(['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']),
  webhooks: z.array(z.looseObject({ name: z.string(), clientConfig: z.looseObject({}) })).min(1),
});
/** A Mutating- or ValidatingWebhookConfiguration, as read from manifests/base. */
export type MutatingWebhookConfigurationObject = z.infer<typeof WebhookConfiguration>;

async function readManifestDocuments(path: string): Promise<unknown[]> {
  const text = await readFile(path, 'utf8').catch((err: unknown) => {
    throw new Error(`cannot read ${path}: ${(err as Error).message}`);
  });
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors.map((e) => e.message).join('; ')}`);
      return doc.toJS() as unknown;
    })
    .filter((doc) => doc !== null && doc !== undefined);
}

/**
 * manifests/base/mutating-webhook.yaml with every clientConfig pointed at
 * `url` and trusting `caPem`, and the cert-manager annotation dropped (there is
 * no cainjector here). Everything else — rules, selectors, matchConditions,
 * failurePolicy, reinvocationPolicy, timeouts — is kept as written.
 */
export async function loadMutatingWebhook(url: string, caPem: string, name?: string): Promise<MutatingWebhookConfigurationObject> {
  return loadWebhookConfiguration(MUTATING_WEBHOOK_MANIFEST, 'MutatingWebhookConfiguration', url, caPem, name);
}

/** manifests/base/validating-webhook.yaml, pointed at `url` (the server's /validate) the same way. */
export async function loadValidatingWebhook(url: string, caPem: string): Promise<MutatingWebhookConfigurationObject> {
  return loadWebhookConfiguration(VALIDATING_WEBHOOK_MANIFEST, 'ValidatingWebhookConfiguration', url, caPem);
}

async function loadWebhookConfiguration(
  path: string,
  kind: 'MutatingWebhookConfiguration' | 'ValidatingWebhookConfiguration',
  url: string,
  caPem: string,
  name?: string,
): Promise<MutatingWebhookConfigurationObject> {
  const docs = await readManifestDocuments(path);
  const parsed = WebhookConfiguration.safeParse(docs[0]);
  if (docs.length !== 1 || !parsed.success || parsed.data.kind !== kind) {
    throw new Error(`${path}: expected exactly one ${kind} with webhooks[]`);
  }
  const config = parsed.data;
  const annotations = { ...config.metadata.annotations };
  delete annotations['cert-manager.io/inject-ca-from'];
  return {
    ...config,
    metadata: { ...config.metadata, name: name ?? config.metadata.name, annotations },
    webhooks: config.webhooks.map((w) => ({ ...w, clientConfig: { url, caBundle: Buffer.from(caPem).toString('base64') } })),
  };
}

/** The ValidatingAdmissionPolicy and its binding, as written in manifests/base. */
export async function loadValidatingPolicy(): Promise<KubernetesObject[]> {
  const docs = (await readManifestDocuments(POLICY_MANIFEST)).map((d) => ManifestObject.parse(d));
  const kinds = docs.map((d) => d.kind).sort();
  if (kinds.join(',') !== 'ValidatingAdmissionPolicy,ValidatingAdmissionPolicyBinding') {
    throw new Error(`${POLICY_MANIFEST}: expected a ValidatingAdmissionPolicy and a ValidatingAdmissionPolicyBinding, found ${kinds.join(', ')}`);
  }
  return docs;
}

/** Creates each object, replacing one that already exists under that name. */
export async function applyObjects(cp: ControlPlane, objects: KubernetesObject[]): Promise<void> {
  const client = KubernetesObjectApi.makeApiClient(cp.kubeConfig());
  for (const obj of objects) {
    try {
      await client.create(obj);
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw err;
      const existing = await client.read({ apiVersion: obj.apiVersion, kind: obj.kind, metadata: { name: obj.metadata?.name ?? '', namespace: obj.metadata?.namespace } });
      await client.replace({ ...obj, metadata: { ...obj.metadata, resourceVersion: existing.metadata?.resourceVersion } });
    }
  }
}

export async function deleteObjects(cp: ControlPlane, objects: KubernetesObject[]): Promise<void> {
  const client = KubernetesObjectApi.makeApiClient(cp.kubeConfig());
  for (const obj of objects) {
    try {
      await client.delete(obj);
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
    }
  }
}
